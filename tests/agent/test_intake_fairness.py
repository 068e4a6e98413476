"""Fair incident capacity: decided incidents with nothing in hand give their slot to new
targets, so a flood about objects that do not exist cannot starve a genuine alert; what is
still dropped at the cap is counted and audited once per batch."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.app import Agent
from agent.audit import AuditKind
from agent.intake import CloseReason, IgnoreReason, Intake, IntakeLimits, parse_webhook
from simcluster.harness import RunningSim
from tests.agent.test_executor import sim_agent

NOW = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)


def alert(name: str, deployment: str, namespace: str = "ghost") -> dict[str, Any]:
    return {
        "status": "firing",
        "labels": {"alertname": name, "namespace": namespace, "deployment": deployment, "severity": "warning"},
        "startsAt": "2026-11-28T04:50:00Z",
        "fingerprint": f"{namespace}-{deployment}-{name}",
    }


def webhook(*alerts: dict[str, Any]) -> bytes:
    body = {"version": "4", "groupKey": "g", "status": "firing", "alerts": list(alerts)}
    return json.dumps(body).encode()


def test_a_parked_incident_gives_its_slot_to_a_new_target() -> None:
    intake = Intake(IntakeLimits(max_open_incidents=3))
    flood = intake.ingest_batch(parse_webhook(webhook(*(alert("Down", f"ghost-{i}") for i in range(3)))), now=NOW)
    for incident in flood.new:
        intake.park(incident.id)

    genuine = intake.ingest_batch(parse_webhook(webhook(alert("Down", "cart", namespace="shop"))), now=NOW)

    assert [i.target.name for i in genuine.new if i.target] == ["cart"]
    evicted = intake.get(flood.new[0].id)
    assert evicted is not None and evicted.close_reason is CloseReason.EVICTED
    assert len(intake.open_incidents()) == 3


def test_incidents_still_in_hand_are_never_evicted() -> None:
    intake = Intake(IntakeLimits(max_open_incidents=2))
    intake.ingest_batch(parse_webhook(webhook(alert("Down", "a"), alert("Down", "b"))), now=NOW)

    late = intake.ingest_batch(parse_webhook(webhook(alert("Down", "c"))), now=NOW)

    assert late.new == [] and [i.reason for i in late.ignored] == [IgnoreReason.CAPACITY]


@pytest.fixture
def agent(bare_sim: RunningSim, tmp_path: Path) -> Iterator[Agent]:
    agent = sim_agent(bare_sim, tmp_path / "data")
    agent.pipeline.intake.limits = IntakeLimits(max_open_incidents=5)
    try:
        yield agent
    finally:
        agent.stop()


def decided(agent: Agent) -> set[str]:
    return {r.incident_id or "" for r in agent.store.audit.records() if r.kind == AuditKind.INCIDENT.value}


def test_a_genuine_alert_after_a_flood_is_decided(agent: Agent) -> None:
    for batch in range(10):
        agent.pipeline.ingest_webhook(webhook(*(alert("Down", f"ghost-{batch}-{i}") for i in range(5))))

    [handled] = agent.pipeline.ingest_webhook(webhook(alert("KubeDeploymentReplicasMismatch", "cart", "shop")))

    assert handled.evaluation.incident.id in decided(agent)
    assert len(agent.pipeline.intake.open_incidents()) <= 5


def test_alerts_dropped_at_the_cap_are_counted_and_audited_once_per_batch(agent: Agent) -> None:
    agent.pipeline.ingest_webhook(webhook(*(alert("Down", f"ghost-{i}") for i in range(12))))

    [record] = [r for r in agent.store.audit.records() if r.payload.get("reason") == "open-incident capacity"]
    assert record.payload["dropped"] == 7 and record.payload["alert_names"] == ["Down"]
    assert 'scutum_alerts_total{outcome="dropped"} 7.0' in agent.metrics.render().decode()
    assert agent.audit.verify().ok


def test_label_filters_are_applied_to_polled_alerts_even_when_the_source_ignores_them(agent: Agent) -> None:
    def gettable(name: str, cluster: str) -> dict[str, Any]:
        return {
            "labels": {"alertname": name, "namespace": "shop", "deployment": name.lower(), "cluster": cluster},
            "startsAt": "2026-11-28T04:50:00Z",
            "fingerprint": f"{name}-{cluster}",
            "status": {"state": "active"},
        }

    seen: list[httpx.Request] = []

    def source(request: httpx.Request) -> httpx.Response:
        seen.append(request)  # answers everything, whatever the filter says
        return httpx.Response(200, json=[gettable("Prod", "prod"), gettable("Staging", "staging")])

    alertmanager = agent.settings.alertmanager.model_copy(
        update={"url": "http://alertmanager.test", "label_filters": {"cluster": "prod"}}
    )
    agent.settings = agent.settings.model_copy(update={"alertmanager": alertmanager})
    agent.http = httpx.Client(transport=httpx.MockTransport(source))

    handled = agent.poll_once()

    assert [h.evaluation.incident.primary.name for h in handled] == ["Prod"]
    assert 'cluster="prod"' in str(seen[0].url.params.get_list("filter"))
    assert 'scutum_alerts_total{outcome="filtered"} 1.0' in agent.metrics.render().decode()
