"""Plan, daemon and executor judge an action by the action's own preconditions on probed facts:
caps, the alert's premise and last-known-good, each a veto with its reason."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

from actions.registry import parse_invocation
from agent.evaluate import Evaluator, NoHistory, Outcome
from agent.intake import Incident, Intake
from agent.planning.runbook import RunbookPlanner
from risk.model import Proposal, Verdict
from risk.settings import PolicySettings, RiskSettings
from tests.agent.fixtures.cluster import NOW, FakeCluster, deployment, meta, pod, replicaset, ts

Obj = dict[str, Any]
STARTED = NOW - timedelta(minutes=10)


def incident(name: str, **labels: str) -> Incident:
    alert = {
        "labels": {"alertname": name, "severity": "warning", **labels},
        "annotations": {},
        "startsAt": STARTED.isoformat(),
        "endsAt": (NOW + timedelta(minutes=5)).isoformat(),
        "fingerprint": f"fp-{name}",
        "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
    }
    return Intake().ingest_poll([alert], now=NOW).new[0]


def node(name: str, *, ready: bool) -> Obj:
    condition = {"type": "Ready", "status": "True" if ready else "False"}
    return {
        "kind": "Node",
        "metadata": meta(name, None, created=NOW - timedelta(days=9)),
        "status": {"conditions": [condition]},
    }


class Keeper:
    """Snapshot history: versions with the time each became current."""

    def __init__(self, *versions: tuple[datetime, Obj]) -> None:
        self.versions = list(versions)

    def version_before(self, kind: str, namespace: str, name: str, before: datetime) -> Obj | None:
        found = [
            copy.deepcopy(o)
            for at, o in sorted(self.versions, key=lambda v: v[0])
            if at < before and (o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]) == (kind, namespace, name)
        ]
        return found[-1] if found else None


def evaluator(cluster: FakeCluster, *, snapshots: Keeper | None = None) -> Evaluator:
    return Evaluator(
        RunbookPlanner(cluster), cluster, NoHistory(), RiskSettings(), PolicySettings(), snapshots=snapshots
    )


def test_node_not_ready_alert_on_a_ready_node_is_denied_with_the_contradiction() -> None:
    cluster = FakeCluster(node("node-1", ready=True), node("node-2", ready=True), node("node-3", ready=True))
    result = evaluator(cluster).evaluate(incident("KubeNodeNotReady", node="node-1"), now=NOW)
    assert result.proposal is not None and result.proposal.action.value == "drain_node"
    assert result.outcome is Outcome.DENY
    assert any("alert_premise" in r and "it is ready" in r for r in result.reasons), result.reasons


def test_node_not_ready_alert_on_a_not_ready_node_passes_the_premise() -> None:
    cluster = FakeCluster(node("node-1", ready=False), node("node-2", ready=True), node("node-3", ready=True))
    result = evaluator(cluster).evaluate(incident("KubeNodeNotReady", node="node-1"), now=NOW)
    assert result.decision is not None
    assert not result.decision.failed_preconditions, result.reasons
    premise = [c for c in result.decision.preconditions if c.name == "alert_premise"]
    assert len(premise) == 1 and premise[0].holds


def test_crashloop_claim_on_a_running_ready_pod_is_denied() -> None:
    web = deployment("web")
    old = replicaset(web, "a1", revision=1, created=NOW - timedelta(days=3))
    new = replicaset(web, "b2", revision=2, created=NOW - timedelta(minutes=40))
    running = pod("web-b2-x", new)
    running["status"] = {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [{"name": "app", "ready": True, "state": {"running": {}}}],
    }
    cluster = FakeCluster(web, old, new, running)
    result = evaluator(cluster).evaluate(incident("KubePodCrashLooping", namespace="prod", pod="web-b2-x"), now=NOW)
    assert result.proposal is not None
    assert result.outcome is Outcome.DENY
    assert any("alert_premise" in r for r in result.reasons), result.reasons


def _fresh_workload() -> tuple[FakeCluster, Obj]:
    """A Deployment created a few minutes before its incident: its only revision is the broken one."""
    created = STARTED - timedelta(minutes=4)
    web = deployment("web")
    web["metadata"]["creationTimestamp"] = ts(created)
    web["status"] = {"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 0}
    web["metadata"]["generation"] = 1
    only = replicaset(web, "b2", revision=1, created=created)
    return FakeCluster(web, only), web


def test_rollback_with_no_known_good_version_is_denied_in_plan_and_in_the_daemon() -> None:
    cluster, web = _fresh_workload()
    broken_first_copy = (STARTED - timedelta(minutes=4), copy.deepcopy(web))
    action, params = parse_invocation(
        "rollback_workload",
        {
            "kind": "Deployment",
            "namespace": "prod",
            "name": "web",
            "before": (STARTED - timedelta(minutes=20)).isoformat(),
        },
    )
    proposal = Proposal(action.name, params, action.target(params), STARTED)
    plan_view = evaluator(cluster)  # `scutum plan`: no store, no snapshots
    daemon_view = evaluator(cluster, snapshots=Keeper(broken_first_copy))  # the keeper saw the broken template
    for view in (plan_view, daemon_view):
        _, decision = view.rescore(proposal, None, now=NOW)
        assert decision.verdict is Verdict.DENY
        assert [c.name for c in decision.failed_preconditions] == ["known_good_template"]
        assert any("nothing to roll back to" in rule for rule in decision.rules), decision.rules


def test_a_snapshot_observed_healthy_is_a_known_good_rollback_target() -> None:
    cluster, web = _fresh_workload()
    broke_at, served_at = STARTED - timedelta(minutes=25), NOW - timedelta(days=1)
    broken = copy.deepcopy(web)
    broken["metadata"].update(creationTimestamp=ts(NOW - timedelta(days=7)), managedFields=[{"time": ts(broke_at)}])
    healthy = copy.deepcopy(broken)
    healthy["metadata"]["managedFields"] = [{"time": ts(served_at)}]
    healthy["spec"]["template"]["spec"]["containers"][0]["image"] = "app:0"
    healthy["status"] = {"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3}
    action, params = parse_invocation(
        "rollback_workload",
        {
            "kind": "Deployment",
            "namespace": "prod",
            "name": "web",
            "before": (STARTED - timedelta(minutes=20)).isoformat(),
        },
    )
    proposal = Proposal(action.name, params, action.target(params), STARTED)
    keeper = Keeper((served_at, healthy), (broke_at, broken))
    _, decision = evaluator(cluster, snapshots=keeper).rescore(proposal, None, now=NOW)
    assert not decision.failed_preconditions, decision.rules
    assert {c.name: c.detail for c in decision.preconditions}["known_good_template"] == "from snapshot"


def test_hpa_bounds_above_the_operator_cap_are_denied_at_planning() -> None:
    web = deployment("web", replicas=3)
    hpa = {
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta("web", "prod", created=NOW - timedelta(days=3)),
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 2, "maxReplicas": 10},
        "status": {"currentReplicas": 10},
    }
    cluster = FakeCluster(web, hpa)
    action, params = parse_invocation(
        "scale_workload",
        {
            "kind": "Deployment",
            "namespace": "prod",
            "name": "web",
            "replicas": 20,
            "hpa_bounds": {"min_replicas": 10_000, "max_replicas": 10_000},
        },
    )
    proposal = Proposal(action.name, params, action.target(params), STARTED, requested_by="someone")
    _, decision = evaluator(cluster).rescore(proposal, None, now=NOW)
    assert decision.verdict is Verdict.DENY
    assert [c.name for c in decision.failed_preconditions] == ["hpa_bounds_within_limit"]
    assert any("10000..10000 against max_scale_replicas 50" in rule for rule in decision.rules)
