"""Hostile traffic against the HTTP endpoints: bodies bounded before they are read, strict
parsing with clear 400s, every refusal recorded (aggregated when unauthenticated), and the
decision queue answering at once with back-pressure instead of silent drops."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.requests import Request
from starlette.testclient import TestClient

from agent.app import Agent
from agent.audit import AuditKind
from agent.http import BodyLimits, BodyRefused, build_http_app, read_bounded
from agent.rate_limit import RateLimiter
from agent.work import DecisionQueue, Lane, QueueLimits
from simcluster.harness import RunningSim
from tests.agent.test_executor import sim_agent

WEBHOOK = Path(__file__).parent / "fixtures" / "webhook_v4.json"


@pytest.fixture
def agent(bare_sim: RunningSim, tmp_path: Path) -> Iterator[Agent]:
    agent = sim_agent(bare_sim, tmp_path / "data")
    try:
        yield agent
    finally:
        agent.stop()


def app_client(agent: Agent, **options: object) -> TestClient:
    app = build_http_app(
        pipeline=agent.pipeline,
        metrics_text=agent.metrics.render,
        is_leader=lambda: True,
        is_ready=lambda: True,
        clock=agent.clock,
        refusals=agent.refusals,
        **options,  # type: ignore[arg-type]
    )
    return TestClient(app)


def refusals(agent: Agent) -> list[dict[str, object]]:
    return [dict(r.payload) for r in agent.store.audit.records() if r.payload.get("refused")]


def decided(agent: Agent) -> set[str]:
    return {r.incident_id or "" for r in agent.store.audit.records() if r.kind == AuditKind.INCIDENT.value}


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read(agent: Agent) -> None:
    read: list[int] = []

    def body() -> Iterator[bytes]:
        read.append(1)
        yield b"x" * 10

    client = app_client(agent, limits=BodyLimits(webhook=2048, slack=2048))
    response = client.post("/alertmanager", content=body(), headers={"Content-Length": "999999999"})

    assert response.status_code == 413
    assert refusals(agent)[0]["status"] == "413"


def test_a_chunked_stream_is_cut_off_at_the_limit() -> None:
    pulled: list[int] = []

    async def receive() -> dict[str, object]:
        pulled.append(1)  # 10 MB if every chunk were read
        return {"type": "http.request", "body": b"[" * 1024, "more_body": len(pulled) < 10_000}

    request = Request({"type": "http", "method": "POST", "headers": [], "path": "/alertmanager"}, receive)
    with pytest.raises(BodyRefused) as refused:
        asyncio.run(read_bounded(request, 8 * 1024))

    assert refused.value.status == 413
    assert len(pulled) == 9  # stopped at the first chunk past the limit


def test_an_unchunked_body_over_the_limit_is_refused_through_the_app(agent: Agent) -> None:
    def chunks() -> Iterator[bytes]:
        yield from (b"[" * 1024 for _ in range(100))

    response = app_client(agent, limits=BodyLimits(webhook=8 * 1024)).post("/alertmanager", content=chunks())

    assert response.status_code == 413
    assert "limit" in response.json()["error"]


def test_the_slack_route_has_a_small_limit_of_its_own(agent: Agent) -> None:
    class Never:
        def accept(self, *args: object) -> object:
            raise AssertionError("the body must not reach the Slack handler")

    client = app_client(agent, slack=Never())
    response = client.post("/slack/events", content=b"payload=" + b"x" * (64 * 1024 + 1))

    assert response.status_code == 413
    assert refusals(agent)[0]["endpoint"] == "/slack/events"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"[" * 100_000, "nested deeper"),
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        (json.dumps({"version": "3", "groupKey": "g", "status": "firing", "alerts": []}).encode(), "version"),
        (b"null", "webhook payload"),
    ],
)
def test_a_body_that_cannot_be_taken_is_an_audited_400(agent: Agent, body: bytes, says: str) -> None:
    response = app_client(agent).post("/alertmanager", content=body)

    assert response.status_code == 400
    assert says in response.json()["error"]
    [record] = refusals(agent)
    assert says in str(record["reason"])


def test_unauthenticated_noise_is_one_record_per_source_and_interval(agent: Agent, bare_sim: RunningSim) -> None:
    client = app_client(agent, webhook_token="s3cret-token")
    huge = "Bearer " + "x" * 60_000
    for _ in range(300):
        assert client.post("/alertmanager", content=b"{}", headers={"Authorization": huge}).status_code == 401

    assert len(refusals(agent)) == 1
    bare_sim.cluster.tick(61)
    agent.refusals.flush()

    first, summary = refusals(agent)
    assert summary["repeats"] == 299
    stored = json.dumps([first, summary])
    assert len(stored) < 2000  # header values are never stored whole
    assert 'scutum_refused_requests_total{endpoint="/alertmanager"} 300.0' in agent.metrics.render().decode()
    assert agent.audit.verify().ok


def test_with_the_queue_the_webhook_answers_202_and_the_worker_decides(agent: Agent) -> None:
    queue = DecisionQueue()
    client = app_client(agent, queue=queue)

    response = client.post("/alertmanager", content=WEBHOOK.read_bytes())

    assert response.status_code == 202 and response.json()["accepted"] >= 1
    assert decided(agent) == set()  # nothing decided while answering
    assert queue.run_pending() == 1
    assert decided(agent)


def test_a_full_queue_answers_429_with_retry_after_and_records_it(agent: Agent) -> None:
    queue = DecisionQueue(QueueLimits(alerts=1))
    assert queue.offer(Lane.ALERTS, lambda: None)  # the lane is full
    client = app_client(agent, queue=queue)

    response = client.post("/alertmanager", content=WEBHOOK.read_bytes())

    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "queue full" in str(refusals(agent)[0]["reason"])
    assert queue.stats.refused[Lane.ALERTS] == 1


def test_a_slow_decision_does_not_hold_up_health_or_the_answer(agent: Agent) -> None:
    release = threading.Event()
    queue = DecisionQueue()
    queue.start()
    try:

        def hung_llm() -> None:
            release.wait(10)

        assert queue.offer(Lane.ALERTS, hung_llm, label="hung LLM")
        client = app_client(agent, queue=queue)
        assert client.post("/alertmanager", content=WEBHOOK.read_bytes()).status_code == 202
        assert client.get("/healthz").status_code == 200
        clicked = threading.Event()
        assert queue.offer(Lane.CLICKS, clicked.set)
        assert clicked.wait(5)  # clicks have their own worker
    finally:
        release.set()
        assert queue.join(timeout=30)
        queue.stop()
    assert decided(agent)


def test_flood_about_unknown_objects_waits_behind_real_targets(agent: Agent) -> None:
    order: list[str] = []
    queue = DecisionQueue()
    assert queue.offer(Lane.DOUBTFUL, lambda: order.append("doubtful"))
    assert queue.offer(Lane.ALERTS, lambda: order.append("real"))
    queue.run_pending()
    assert order == ["real", "doubtful"]


def test_refusal_intervals_are_counted_on_the_injected_clock(agent: Agent, bare_sim: RunningSim) -> None:
    for _ in range(3):
        agent.refusals.refuse(endpoint="/x", source="10.0.0.1", reason="noise")
    bare_sim.cluster.tick(30)
    assert agent.refusals.flush() == 0
    bare_sim.cluster.tick(31)
    assert agent.refusals.flush() == 1
    assert [r.get("repeats") for r in refusals(agent)] == [None, 2]


def test_a_source_over_its_rate_gets_429_before_its_body_is_read(agent: Agent) -> None:
    now = [0.0]
    limiter = RateLimiter(rate=1.0, burst=2.0, monotonic=lambda: now[0])
    client = app_client(agent, rate_limit=limiter)

    statuses = [client.post("/alertmanager", content=b"{not json").status_code for _ in range(4)]
    now[0] += 1.0
    later = client.post("/alertmanager", content=b"{not json").status_code

    assert statuses == [400, 400, 429, 429] and later == 400
    assert {str(r["reason"]) for r in refusals(agent)} >= {"too many requests from this source"}
