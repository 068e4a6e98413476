"""The HTTP endpoints through starlette's test client: health, readiness, metrics, the
Alertmanager webhook (leader only, bounded size) and Slack's HTTP mode. Hostile bodies are
in test_http_hostile.py."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from agent.app import Agent
from agent.audit import AuditKind
from agent.http import MAX_WEBHOOK_BYTES, build_http_app
from approvals.slack_interactions import SlackAnswer
from simcluster.harness import RunningSim
from tests.agent.test_executor import sim_agent

WEBHOOK = Path(__file__).parent / "fixtures" / "webhook_v4.json"


class Switches:
    """What the app asks its owner: leading, ready."""

    leader = True
    ready = True


@pytest.fixture
def agent(bare_sim: RunningSim, tmp_path: Path) -> Iterator[Agent]:
    agent = sim_agent(bare_sim, tmp_path / "data")
    try:
        yield agent
    finally:
        agent.stop()


@pytest.fixture
def switches() -> Switches:
    return Switches()


class RecordingSlack:
    """A Slack acceptor that records what reached it and answers as told."""

    def __init__(self, status: int = 401, text: str = "bad signature") -> None:
        self.seen: list[tuple[dict[str, str], bytes, datetime]] = []
        self.answer = SlackAnswer(status, text)

    def accept(self, headers: Mapping[str, str], raw_body: bytes, now: datetime) -> SlackAnswer:
        self.seen.append((dict(headers), raw_body, now))
        return self.answer


def client_for(agent: Agent, switches: Switches, slack: RecordingSlack | None = None) -> TestClient:
    app = build_http_app(
        pipeline=agent.pipeline,
        metrics_text=agent.metrics.render,
        is_leader=lambda: switches.leader,
        is_ready=lambda: switches.ready,
        clock=agent.clock,
        refusals=agent.refusals,
        slack=slack,
    )
    return TestClient(app)


@pytest.fixture
def client(agent: Agent, switches: Switches) -> TestClient:
    return client_for(agent, switches)


def audit_kinds(agent: Agent) -> list[str]:
    return [r.kind for r in agent.store.audit.records()]


def test_healthz_answers_ok_even_on_a_standby(client: TestClient, switches: Switches) -> None:
    switches.leader = False
    response = client.get("/healthz")
    assert response.status_code == 200 and response.text == "ok"


def test_readyz_follows_readiness(client: TestClient, switches: Switches) -> None:
    assert client.get("/readyz").status_code == 200
    switches.ready = False
    response = client.get("/readyz")
    assert response.status_code == 503 and response.text == "not ready"


def test_metrics_are_prometheus_text(client: TestClient, agent: Agent) -> None:
    agent.metrics.incidents.inc()

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "scutum_incidents_total 1.0" in response.text
    assert "# TYPE scutum_approval_queue_depth gauge" in response.text


def test_webhook_notification_is_taken_in_by_the_leader(client: TestClient, agent: Agent) -> None:
    response = client.post("/alertmanager", content=WEBHOOK.read_bytes())

    assert response.status_code == 200
    incidents = response.json()["incidents"]
    assert incidents and all(i.startswith("inc-") for i in incidents)
    recorded = {r.incident_id for r in agent.store.audit.records() if r.kind == AuditKind.INCIDENT.value}
    assert set(incidents) <= recorded


def test_webhook_on_a_standby_is_refused_with_503_and_not_read(
    client: TestClient, agent: Agent, switches: Switches
) -> None:
    switches.leader = False

    response = client.post("/alertmanager", content=WEBHOOK.read_bytes())

    assert response.status_code == 503
    assert "not the leader" in response.json()["error"]
    assert audit_kinds(agent) == []


def test_webhook_payload_too_large_is_refused_with_413_and_recorded(client: TestClient, agent: Agent) -> None:
    response = client.post("/alertmanager", content=b" " * (MAX_WEBHOOK_BYTES + 1))

    assert response.status_code == 413
    [record] = list(agent.store.audit.records())
    assert record.kind == AuditKind.ALERT.value and record.payload["refused"] is True
    assert record.payload["status"] == "413"


def test_a_webhook_without_its_envelope_is_a_400_and_recorded(client: TestClient, agent: Agent) -> None:
    response = client.post("/alertmanager", content=b'{"alerts": [{"status": "firing"}]}')

    assert response.status_code == 400
    assert "webhook payload" in response.json()["error"]
    assert AuditKind.ALERT.value in audit_kinds(agent)


def test_slack_events_without_http_mode_are_not_found(client: TestClient) -> None:
    assert client.post("/slack/events", content=b"payload=x").status_code == 404


def test_slack_events_reach_the_handler_with_headers_and_body(agent: Agent, switches: Switches) -> None:
    slack = RecordingSlack()

    response = client_for(agent, switches, slack=slack).post(
        "/slack/events", content=b"payload=x", headers={"X-Slack-Signature": "v0=abc"}
    )

    assert response.status_code == 401 and response.text == "bad signature"
    ((headers, body, now),) = slack.seen
    assert headers["x-slack-signature"] == "v0=abc" and body == b"payload=x" and now == agent.clock()


def test_a_disabled_webhook_answers_404_and_reads_nothing(agent: Agent, switches: Switches) -> None:
    app = build_http_app(
        pipeline=agent.pipeline,
        metrics_text=agent.metrics.render,
        is_leader=lambda: True,
        is_ready=lambda: True,
        clock=agent.clock,
        webhook_enabled=False,
    )
    response = TestClient(app).post("/alertmanager", content=WEBHOOK.read_bytes())
    assert response.status_code == 404
    assert "webhook_enabled" in response.json()["error"]
    assert audit_kinds(agent) == []


def _guarded(agent: Agent) -> TestClient:
    app = build_http_app(
        pipeline=agent.pipeline,
        metrics_text=agent.metrics.render,
        is_leader=lambda: True,
        is_ready=lambda: True,
        clock=agent.clock,
        refusals=agent.refusals,
        webhook_token="s3cret-token",
    )
    return TestClient(app)


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic s3cret-token", "Bearer"])
def test_a_webhook_without_the_token_is_refused_and_reported(agent: Agent, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = _guarded(agent).post("/alertmanager", content=WEBHOOK.read_bytes(), headers=headers)
    assert response.status_code == 401
    [record] = list(agent.store.audit.records())  # the refusal; nothing of the body was decided
    assert record.payload["reason"] == "missing or wrong bearer token"


def test_a_webhook_with_the_token_is_decided(agent: Agent) -> None:
    client = _guarded(agent)
    response = client.post(
        "/alertmanager", content=WEBHOOK.read_bytes(), headers={"Authorization": "Bearer s3cret-token"}
    )
    assert response.status_code == 200
    assert response.json()["incidents"]
    assert not [r for r in agent.store.audit.records() if r.payload.get("refused")]
