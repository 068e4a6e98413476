"""Fuzzing the endpoints and `scutum plan`: random and adversarial bodies (hypothesis, plus
the corpus in tests/agent/hostile/) never produce a 5xx or a traceback, never lose a genuine
alert sent after them, and leave an audit chain that verifies."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient
from typer.testing import CliRunner

from agent.app import Agent
from agent.audit import AuditKind
from agent.commands import app as cli
from agent.http import BodyLimits, build_http_app
from approvals.settings import SlackSettings
from approvals.slack import SlackChannel
from approvals.slack_interactions import ClickHandler, SlackInteractions
from simcluster.harness import RunningSim
from tests.agent.test_executor import sim_agent

CORPUS = sorted(p for p in (Path(__file__).parent / "hostile").iterdir() if p.suffix != ".md")
GENUINE = (Path(__file__).parent / "fixtures" / "webhook_v4.json").read_bytes()
SECRET = "fuzz-signing-secret"
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=30,
)
alertish = st.fixed_dictionaries(
    {
        "version": st.sampled_from(["4", "3", ""]) | st.text(max_size=5),
        "groupKey": st.text(max_size=20),
        "status": st.sampled_from(["firing", "resolved", "odd"]),
        "alerts": st.lists(
            st.fixed_dictionaries(
                {
                    "status": st.sampled_from(["firing", "resolved"]),
                    "labels": st.dictionaries(st.text(max_size=20), st.text(max_size=60), max_size=6),
                    "startsAt": st.sampled_from(["2026-11-28T04:50:00Z", "garbage", ""]),
                },
                optional={"fingerprint": st.text(max_size=30), "annotations": json_values},
            ),
            max_size=5,
        ),
    }
)
bodies = (
    st.binary(max_size=2000)
    | json_values.map(lambda v: json.dumps(v).encode())
    | alertish.map(lambda v: json.dumps(v).encode())
)


def signed(body: bytes, timestamp: int) -> dict[str, str]:
    digest = hmac.new(SECRET.encode(), b"v0:" + str(timestamp).encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": f"v0={digest}"}


@pytest.fixture
def agent(bare_sim: RunningSim, tmp_path: Path) -> Iterator[Agent]:
    agent = sim_agent(bare_sim, tmp_path / "data")
    try:
        yield agent
    finally:
        agent.stop()


@pytest.fixture
def client(agent: Agent) -> TestClient:
    slack_settings = SlackSettings(
        enabled=True,
        mode="http",
        bot_token="xoxb-fuzz",
        signing_secret=SECRET,
        base_url="http://127.0.0.1:9/",
        max_retries=0,
    )
    channel = SlackChannel(slack_settings, repository=agent.store.approvals, audit=lambda event, details: None)
    handler = ClickHandler(agent.approvals, channel)
    interactions = SlackInteractions(slack_settings, handler, audit=lambda event, details: None)
    app = build_http_app(
        pipeline=agent.pipeline,
        metrics_text=agent.metrics.render,
        is_leader=lambda: True,
        is_ready=lambda: True,
        clock=agent.clock,
        refusals=agent.refusals,
        slack=interactions,
        limits=BodyLimits(webhook=512 * 1024, slack=64 * 1024),
    )
    return TestClient(app, raise_server_exceptions=False)


def assert_genuine_alert_still_decided(agent: Agent, client: TestClient) -> None:
    response = client.post("/alertmanager", content=GENUINE)
    assert response.status_code == 200, response.text
    [incident] = response.json()["incidents"]
    assert incident in {r.incident_id for r in agent.store.audit.records() if r.kind == AuditKind.INCIDENT.value}
    assert agent.audit.verify().ok


@FUZZ
@given(body=bodies)
def test_random_webhook_bodies_never_get_a_5xx(agent: Agent, client: TestClient, body: bytes) -> None:
    assert client.post("/alertmanager", content=body).status_code in {200, 400, 413}


@FUZZ
@given(
    body=st.binary(max_size=1500) | json_values.map(lambda v: b"payload=" + json.dumps(v).encode()),
    sign=st.booleans(),
    timestamp=st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=12),
)
def test_random_slack_requests_never_get_a_5xx(
    agent: Agent, client: TestClient, body: bytes, sign: bool, timestamp: str
) -> None:
    now = int(agent.clock().timestamp())
    headers = signed(body, now) if sign else {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": "v0=x"}
    raw = {k.encode(): v.encode("latin-1") for k, v in headers.items()}  # as bytes on the wire, e.g. "²"
    assert client.post("/slack/events", content=body, headers=raw).status_code in {200, 400, 401, 413}


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_the_hostile_corpus_gets_no_5xx_and_loses_no_genuine_alert(
    agent: Agent, client: TestClient, path: Path
) -> None:
    body = path.read_bytes()
    assert client.post("/alertmanager", content=body).status_code in {200, 400, 413}
    now = int((agent.clock() - timedelta(seconds=1)).timestamp())
    assert client.post("/slack/events", content=body, headers=signed(body, now)).status_code in {200, 400, 401, 413}
    assert client.post("/slack/events", content=body).status_code in {400, 401, 413}
    assert_genuine_alert_still_decided(agent, client)


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_plan_on_the_hostile_corpus_is_never_a_traceback(path: Path) -> None:
    result = CliRunner().invoke(cli, ["plan", "--alert", str(path), "--kubeconfig", str(path)])
    assert result.exit_code in {0, 1, 2}
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output


@settings(max_examples=40, deadline=None)
@given(content=bodies)
def test_plan_on_random_files_is_never_a_traceback(content: bytes, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("plan") / "alerts.json"
    path.write_bytes(content)
    result = CliRunner().invoke(cli, ["plan", "--alert", str(path), "--kubeconfig", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in {0, 1, 2}
