"""The pipeline on the simulated cluster: bad alerts are recorded and skipped, and each verdict
goes where it should (nothing, a human, the approval queue, the executor, or an existing action)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.app import Agent
from agent.audit import AuditKind
from agent.evaluate import Outcome
from agent.intake.alerts import DESCRIBED_REJECTIONS, UNDESCRIBED
from agent.pipeline import Notices
from simcluster.harness import RunningSim
from tests.agent.test_executor import sim_agent


@pytest.fixture
def settled(sim: RunningSim) -> RunningSim:
    sim.cluster.settle(passes=10, seconds=2.0)
    sim.cluster.tick(3600)
    sim.cluster.settle(passes=3, seconds=2.0)
    return sim


@pytest.fixture
def told() -> list[str]:
    return []


@pytest.fixture
def agent(settled: RunningSim, tmp_path: Path, told: list[str]) -> Iterator[Agent]:
    agent = sim_agent(settled, tmp_path / "data", policy={"execute_max": 0.3})
    agent.pipeline._notices = Notices(escalate=lambda incident, reason: told.append(f"{incident.id}: {reason}"))
    try:
        yield agent
    finally:
        agent.stop()


def fire(sim: RunningSim, fault: str, **params: str) -> list[dict[str, Any]]:
    """Inject a fault and let simulated time pass until its alerts fire."""
    sim.cluster.inject(fault, **params)
    for _ in range(60):
        sim.cluster.tick(15)
        alerts = sim.cluster.firing_alerts()
        if alerts:
            return alerts
    raise AssertionError(f"{fault} raised no alert")


def alert(name: str, labels: dict[str, str], *, starts: str = "2026-01-01T01:00:00Z") -> dict[str, Any]:
    """A GettableAlert as Alertmanager's API returns it."""
    return {
        "labels": {"alertname": name, "severity": "warning", **labels},
        "annotations": {},
        "startsAt": starts,
        "endsAt": "2026-01-01T03:00:00Z",
        "fingerprint": f"fp-{name.lower()}",
        "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
        "receivers": [{"name": "scutum"}],
    }


def kinds(agent: Agent) -> list[str]:
    return [r.kind for r in agent.store.audit.records()]


def test_malformed_alert_is_recorded_and_skipped_while_the_rest_are_decided(agent: Agent) -> None:
    good = alert("SomethingNobodyKnows", {"namespace": "shop"})
    malformed = {"labels": {"alertname": "Broken"}, "status": "firing"}

    handled = agent.pipeline.ingest_poll(json.dumps([malformed, good]))

    assert [h.evaluation.incident.alert_names for h in handled] == [("SomethingNobodyKnows",)]
    rejected = [r.payload for r in agent.store.audit.records() if r.payload.get("rejected")]
    assert len(rejected) == 1 and "Broken" in rejected[0]["excerpt"]
    assert b'scutum_alerts_total{outcome="rejected"} 1.0' in agent.metrics.render()


def test_a_flood_of_malformed_alerts_costs_a_count_not_a_record_each(agent: Agent) -> None:
    good = alert("SomethingNobodyKnows", {"namespace": "shop"})
    flood = [{"labels": {"alertname": f"Broken{i}"}} for i in range(DESCRIBED_REJECTIONS + 500)]

    handled = agent.pipeline.ingest_poll(json.dumps([*flood, good]))

    assert [h.evaluation.incident.alert_names for h in handled] == [("SomethingNobodyKnows",)]
    rejected = [r.payload for r in agent.store.audit.records() if r.payload.get("rejected")]
    described, (summary,) = rejected[:-1], rejected[-1:]
    assert [f"Broken{i}" in r["excerpt"] for i, r in enumerate(described)] == [True] * DESCRIBED_REJECTIONS
    assert summary == {"rejected": True, "reason": UNDESCRIBED, "count": 500}
    total = DESCRIBED_REJECTIONS + 500
    assert f'scutum_alerts_total{{outcome="rejected"}} {total}.0'.encode() in agent.metrics.render()


def test_heartbeat_and_resolved_alerts_are_ignored_not_escalated(agent: Agent, told: list[str]) -> None:
    watchdog = alert("Watchdog", {"severity": "none"})
    resolved = {**alert("KubePodCrashLooping", {"namespace": "shop", "pod": "x"}), "endsAt": "2026-01-01T00:00:01Z"}

    handled = agent.pipeline.ingest_poll(json.dumps([watchdog, resolved]))

    assert handled == []
    assert told == []
    assert AuditKind.INCIDENT.value not in kinds(agent)
    assert b'scutum_alerts_total{outcome="ignored"} 2.0' in agent.metrics.render()


def test_alert_nothing_fits_is_escalated_to_humans(agent: Agent, told: list[str]) -> None:
    (handled,) = agent.pipeline.ingest_poll(json.dumps([alert("SomethingNobodyKnows", {"namespace": "shop"})]))

    assert handled.evaluation.outcome is Outcome.ESCALATE
    assert handled.execution_id is None and handled.approval_id is None
    assert len(told) == 1 and told[0].startswith(handled.evaluation.incident.id)
    assert AuditKind.ESCALATION.value in kinds(agent)


def test_protected_namespace_is_denied_and_reported(agent: Agent, settled: RunningSim, told: list[str]) -> None:
    alerts = fire(settled, "bad_image_rollout", namespace="kube-system", deployment="coredns")

    handled = agent.pipeline.ingest_poll(json.dumps(alerts))

    denied = [h for h in handled if h.evaluation.outcome is Outcome.DENY]
    assert denied and all(h.execution_id is None and h.approval_id is None for h in denied)
    assert any("denied by policy" in notice for notice in told)
    assert agent.approvals.repository.list(state=None) == []


def test_risky_fix_goes_to_the_approval_queue(agent: Agent, settled: RunningSim) -> None:
    alerts = fire(settled, "bad_image_rollout", namespace="shop", deployment="frontend")

    handled = agent.pipeline.ingest_poll(json.dumps(alerts))

    (asked,) = [h for h in handled if h.evaluation.outcome is Outcome.APPROVE]
    assert asked.approval_id is not None and asked.execution_id is None
    request = agent.approvals.get(asked.approval_id)
    assert request is not None and request.target.name == "frontend"


def test_new_incident_on_a_target_already_in_hand_joins_it(agent: Agent, settled: RunningSim) -> None:
    agent.store.executions.create(
        action="rollback_workload",
        params={"namespace": "shop", "name": "frontend", "kind": "Deployment"},
        target_kind="Deployment",
        target_name="frontend",
        target_namespace="shop",
        incident_id="inc-earlier",
    )
    alerts = fire(settled, "bad_image_rollout", namespace="shop", deployment="frontend")

    handled = agent.pipeline.ingest_poll(json.dumps(alerts))

    (joined,) = [h for h in handled if h.evaluation.proposal and h.evaluation.proposal.target.name == "frontend"]
    assert joined.joined == "inc-earlier"
    assert joined.execution_id is None and joined.approval_id is None
    assert agent.approvals.repository.list(state=None) == []
