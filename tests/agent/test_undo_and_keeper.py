"""Undo through the agent, the snapshot keeper's version times, and LLM exchanges in the audit chain."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.app import Agent, build_agent
from agent.keeper import valid_from
from agent.pipeline import llm_exchanges
from agent.settings import Settings, load_settings
from approvals import cli_channel
from approvals.model import ApprovalState
from approvals.queue import NotAllowed
from simcluster.clock import ManualClock
from simcluster.harness import RunningSim


def _settings(sim: RunningSim, data_dir: Path) -> Settings:
    base = load_settings(None, env={})
    return base.model_copy(
        update={
            "data_dir": data_dir,
            "kube": base.kube.model_copy(update={"url": sim.url}),
            "approvals": base.approvals.model_copy(update={"cli_approvers": ("oncall", "requester")}),
            "policy": base.policy.model_copy(update={"execute_max": 0.0}),  # every action asks a person
        }
    )


@pytest.fixture
def agent(sim: RunningSim, tmp_path: Path) -> Iterator[Agent]:
    clock = sim.cluster.clock
    assert isinstance(clock, ManualClock)
    built = build_agent(
        _settings(sim, tmp_path),
        clock=clock.now,
        use_cache=False,
        sleep=sim.cluster.tick,
        verify_timeout_seconds=5.0,
    )
    sim.cluster.tick(3600)
    built.start(schedule=False)
    yield built
    built.stop()


def _fire(sim: RunningSim, fault: str, **params: str) -> None:
    """Inject, then let simulated time pass beyond the alert's pending period (an hour for jobs)."""
    sim.cluster.inject(fault, **params)
    for _ in range(150):
        sim.cluster.tick(30)


def test_undo_becomes_a_new_request_its_requester_cannot_approve(sim: RunningSim, agent: Agent) -> None:
    _fire(sim, "cronjob_runaway", namespace="batch", cronjob="nightly-report")
    handled = [h for h in agent.poll_once() if h.approval_id or h.execution_id]
    assert handled, "the runaway CronJob should be proposed for suspension"
    request_id = handled[0].approval_id
    assert request_id is not None
    assert cli_channel.approve(agent.approvals, request_id, as_user="oncall", now=agent.clock()).exit_code == 0
    agent.dispatch()  # the leader picks the approved request up from the store
    agent.executor.wait(timeout=60)
    assert sim.cluster.store.get("CronJob", "batch", "nightly-report")["spec"].get("suspend") is True

    text = agent.undo(request_id, "requester")
    assert text.startswith("Undo requested"), text
    undo = [r for r in agent.approvals.repository.list(state=ApprovalState.PENDING) if r.requested_by == "requester"]
    assert len(undo) == 1 and undo[0].action.value == "suspend_cronjob" and undo[0].params["suspend"] is False
    refused = agent.approvals.vote(
        undo[0].id,
        "requester",
        cli_channel.VoteDecision.APPROVE,
        channel=cli_channel.VoteChannel.CLI,
        now=agent.clock(),
    )
    assert isinstance(refused, NotAllowed)
    again = agent.undo(request_id, "requester")  # a second click, or a replayed request
    assert again.startswith("An undo is already waiting"), again
    assert len([r for r in agent.approvals.repository.list(state=ApprovalState.PENDING) if r.requested_by]) == 1


def test_undo_of_an_unknown_request_is_a_clear_answer(agent: Agent) -> None:
    assert agent.undo("no-such-request", "requester") == "That request no longer exists."


def test_a_version_is_valid_from_its_last_write_not_from_when_it_was_seen() -> None:
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    obj: dict[str, Any] = {
        "metadata": {
            "creationTimestamp": "2026-04-01T00:00:00Z",
            "managedFields": [{"manager": "kubectl", "time": "2026-04-20T10:00:00Z"}],
        }
    }
    assert valid_from(obj, now) == datetime(2026, 4, 20, 10, 0, tzinfo=UTC)
    assert valid_from({"metadata": {}}, now) == now
    future = {"metadata": {"creationTimestamp": (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}}
    assert valid_from(future, now) == now, "a clock skewed into the future never postdates what was seen"


def test_the_keeper_records_a_configmap_before_a_bad_change(sim: RunningSim, agent: Agent) -> None:
    before_fault = agent.clock()
    sim.cluster.inject("bad_configmap_value", namespace="shop", configmap="cart-config", key="CART_TTL")
    sim.cluster.tick(30)
    agent.keeper.resync()
    good = agent.store.snapshots.version_before("ConfigMap", "shop", "cart-config", before_fault)
    assert good is not None and good["data"]["CART_TTL"] != "SIM_BAD"
    newest = agent.store.snapshots.history("ConfigMap", "shop", "cart-config")[-1]
    assert newest.content["data"]["CART_TTL"] == "SIM_BAD"


def test_llm_exchanges_are_found_in_plain_and_fallback_traces() -> None:
    exchange = {"request": {"messages": []}, "response": {"raw": "{}"}, "outcome": "proposed"}
    assert llm_exchanges(exchange) == [exchange]
    nested = {"decided_by": "runbook", "llm": exchange, "runbook": {"rule": "x"}}
    assert llm_exchanges(nested) == [exchange]
    assert llm_exchanges({"rule": "crashloop-after-rollout"}) == []


def _deployment(rv: str, *, image: str, ready: int, uid: str = "u1") -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "uid": uid, "resourceVersion": rv},
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}},
        "status": {"readyReplicas": ready},
    }


def test_a_status_update_is_not_a_version_and_one_version_is_no_change(agent: Agent) -> None:
    snapshots = agent.store.snapshots
    t0 = datetime(2026, 1, 1, 1, 0, tzinfo=UTC)
    assert snapshots.record(_deployment("10", image="app:1", ready=1), observed_at=t0)
    assert not snapshots.record(_deployment("11", image="app:1", ready=3), observed_at=t0 + timedelta(minutes=1))
    assert len(snapshots.history("Deployment", "shop", "web")) == 1
    assert snapshots.changed_at("Deployment", "shop", "web") is None, "seeing an object once is not seeing it change"
    assert snapshots.record(_deployment("12", image="app:2", ready=3), observed_at=t0 + timedelta(minutes=5))
    assert snapshots.changed_at("Deployment", "shop", "web") == t0 + timedelta(minutes=5)


def test_a_recreated_object_is_a_new_version_even_with_the_same_spec(agent: Agent) -> None:
    snapshots = agent.store.snapshots
    t0 = datetime(2026, 1, 1, 1, 0, tzinfo=UTC)
    snapshots.record(_deployment("10", image="app:1", ready=1), observed_at=t0)
    assert snapshots.record(_deployment("20", image="app:1", ready=0, uid="u2"), observed_at=t0 + timedelta(hours=1))
    assert snapshots.changed_at("Deployment", "shop", "web") == t0 + timedelta(hours=1)
