"""Mattermost wired into the daemon: the post's id is kept in the store, the button's callback
reaches the queue through `POST /mattermost/actions`, and oversized bodies are refused while read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from actions.base import ActionName, TargetRef
from actions.registry import REGISTRY
from agent.app import Agent, build_agent
from agent.audit import AuditKind
from agent.http import build_http_app
from agent.settings import load_settings
from approvals.model import ApprovalState, VoteChannel
from risk.model import Proposal
from simcluster.harness import RunningSim
from tests.approvals.conftest import T0, risk
from tests.approvals.mattermost_stub import MattermostStub, mattermost_stub

ALICE_MM = "a" * 26


@pytest.fixture
def stub() -> Iterator[MattermostStub]:
    with mattermost_stub() as running:
        yield running


@pytest.fixture
def agent(bare_sim: RunningSim, tmp_path: Path, stub: MattermostStub) -> Iterator[Agent]:
    env = {
        "SCUTUM_KUBE__URL": bare_sim.url,
        "SCUTUM_DATA_DIR": str(tmp_path),
        "SCUTUM_MATTERMOST__ENABLED": "true",
        "SCUTUM_MATTERMOST__URL": stub.url,
        "SCUTUM_MATTERMOST__BOT_TOKEN": "bot-token",
        "SCUTUM_MATTERMOST__CHANNEL_ID": "c" * 26,
        "SCUTUM_MATTERMOST__CALLBACK_URL": "http://scutum.test/mattermost/actions",
        "SCUTUM_MATTERMOST__ACTION_SECRET": "k" * 40,
        "SCUTUM_APPROVALS__MATTERMOST_APPROVERS": json.dumps({ALICE_MM: "oncall-alice"}),
    }
    agent = build_agent(load_settings(None, env=env), clock=bare_sim.cluster.clock.now, use_cache=False)
    try:
        yield agent
    finally:
        agent.stop()


def restart() -> Proposal:
    params = {"kind": "Deployment", "namespace": "shop", "name": "cart", "restart_token": "inc-1"}
    return Proposal(
        action=ActionName.RESTART_WORKLOAD,
        params=REGISTRY[ActionName.RESTART_WORKLOAD].parse(params),
        target=TargetRef(kind="Deployment", name="cart", namespace="shop"),
        incident_started_at=T0,
        alert_names=("KubePodCrashLooping",),
    )


def client(agent: Agent) -> TestClient:
    assert agent.mattermost_actions is not None
    app = build_http_app(
        pipeline=agent.pipeline,
        metrics_text=agent.metrics.render,
        is_leader=lambda: True,
        is_ready=lambda: True,
        clock=agent.clock,
        mattermost=agent.mattermost_actions.handle,
    )
    return TestClient(app)


def test_a_vote_from_a_mattermost_button_is_stored_under_the_mapped_identity(
    agent: Agent, stub: MattermostStub
) -> None:
    request = agent.approvals.request(
        restart(), risk(0.6), incident_id="inc-1", incident_summary="cart restarts", threshold=0.5, now=agent.clock()
    )
    (post_id,) = stub.posts
    assert agent.store.channel_messages.get_ref(request.id, "mattermost") == post_id
    context = stub.post()["props"]["attachments"][0]["actions"][0]["integration"]["context"]

    response = client(agent).post("/mattermost/actions", json={"user_id": ALICE_MM, "context": context})

    assert response.status_code == 200 and response.json()["ephemeral_text"].startswith("Approved")
    stored = agent.store.approvals.get(request.id)
    assert stored is not None and stored.state is not ApprovalState.PENDING
    assert [(v.approver, v.channel) for v in stored.votes] == [("oncall-alice", VoteChannel.MATTERMOST)]
    assert [m for _, m, _ in stub.calls][:2] == ["/api/v4/posts", f"/api/v4/posts/{post_id}/patch"]


def test_an_oversized_chunked_callback_is_refused_before_it_is_read_whole(agent: Agent) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(1000):
            yield b" " * 1024

    response = client(agent).post("/mattermost/actions", content=chunks())

    assert response.status_code == 413


def test_a_forged_callback_over_http_is_401_and_leaves_a_record(agent: Agent) -> None:
    context = {"request_id": "r1", "vote": "approve", "expires": 4102444800, "token": "0" * 64}

    response = client(agent).post("/mattermost/actions", json={"user_id": ALICE_MM, "context": context})

    assert response.status_code == 401
    kinds = [r.kind for r in agent.store.audit.records()]
    assert AuditKind.CHANNEL_REQUEST_REJECTED.value in kinds
