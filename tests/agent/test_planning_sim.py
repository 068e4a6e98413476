"""Intake and the runbook planner against simcluster over HTTP: real alerts, real API reads."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from actions.base import ActionName, TargetRef
from actions.kube import Kube
from agent.intake import Intake
from agent.planning.runbook import RunbookPlanner
from risk.model import Proposal
from simcluster.harness import RunningSim


@pytest.fixture
def kube(sim: RunningSim) -> Iterator[Kube]:
    client = Kube.from_url(sim.url)
    yield client
    client.close()


def settle_then(sim: RunningSim, *faults: tuple[str, dict[str, Any]]) -> list[Any]:
    """An hour of quiet history, then the faults, then time for the alerts to fire; the polled alerts."""
    sim.cluster.tick(3600)
    for fault, params in faults:
        sim.cluster.inject(fault, **params)
    for _ in range(30):
        sim.cluster.tick(20)
    alerts: list[Any] = httpx.get(f"{sim.url}/api/v2/alerts", timeout=10).json()
    return alerts


def proposals(sim: RunningSim, kube: Kube, alerts: list[Any]) -> dict[TargetRef, Proposal]:
    now = sim.cluster.clock.now()
    result = Intake().ingest_poll(alerts, now=now)
    assert result.rejected == []
    planner = RunbookPlanner(kube)
    found = {}
    for incident in result.new:
        decision = planner.plan(incident, now=now).decision
        if isinstance(decision, Proposal):
            found[decision.target] = decision
    return found


def test_bad_rollout_in_simcluster_is_planned_as_rollback_to_before_the_incident(sim: RunningSim, kube: Kube) -> None:
    alerts = settle_then(sim, ("bad_env", {"namespace": "shop", "deployment": "frontend"}))
    assert "KubePodCrashLooping" in {a["labels"]["alertname"] for a in alerts}
    found = proposals(sim, kube, alerts)
    rollback = found[TargetRef("Deployment", "frontend", "shop")]
    assert rollback.action is ActionName.ROLLBACK_WORKLOAD
    assert rollback.params.before < rollback.incident_started_at  # type: ignore[attr-defined]
    assert rollback.alert_fingerprints  # the probes ask whether these still fire


def test_node_down_deleted_service_and_scaled_to_zero_each_get_their_fix(sim: RunningSim, kube: Kube) -> None:
    alerts = settle_then(
        sim,
        ("node_not_ready", {"node": "node-3"}),
        ("service_deleted", {"namespace": "shop", "service": "catalog"}),
        ("scale_to_zero", {"namespace": "payments", "deployment": "payments-api"}),
    )
    found = proposals(sim, kube, alerts)
    assert found[TargetRef("Node", "node-3")].action is ActionName.DRAIN_NODE
    assert found[TargetRef("Service", "catalog", "shop")].action is ActionName.RESTORE_SERVICE
    scale = found[TargetRef("Deployment", "payments-api", "payments")]
    assert scale.action is ActionName.SCALE_WORKLOAD
    assert scale.params.replicas == 1  # type: ignore[attr-defined]
