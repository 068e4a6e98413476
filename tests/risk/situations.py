"""Concrete situations with the verdict the default settings should give; shared by the
table test, the benchmark and the worked examples in the docs."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from risk.facts import ConsumerFacts, Facts, HpaFacts, PdbFacts, RevisionFacts, Tier
from risk.model import Proposal, Verdict
from tests.risk.builders import (
    INCIDENT,
    NOW,
    base_facts,
    node,
    pod,
    proposal,
    restart,
    revisions,
    workload,
    workload_facts,
)


@dataclass(frozen=True)
class Situation:
    """A proposal, what the probes saw, and the expected verdict."""

    name: str
    proposal: Proposal
    facts: Facts
    expected: Verdict
    shadow: bool = False


def _rollback(before: tuple[str, ...], *, snapshot: bool = False) -> tuple[Proposal, Facts]:
    p = proposal(
        "rollback_workload",
        {"namespace": "shop", "name": "web", "kind": "Deployment", "before": INCIDENT.isoformat()},
    )
    f = replace(
        workload_facts(4),
        workload=workload(2, desired=4, updated=2, last_change_at=INCIDENT + timedelta(minutes=1)),
        revisions=revisions(before, snapshot=snapshot),
    )
    return p, f


def _evict(*, empty_dir: bool) -> tuple[Proposal, Facts]:
    p = proposal("evict_pod", {"namespace": "shop", "name": "web-abc-1"})
    f = replace(
        base_facts("Pod", owner_kind="ReplicaSet"),
        pod=pod(empty_dir=empty_dir),
        workload=workload(3, kind="ReplicaSet", name="web-abc"),
        pdb=PdbFacts(read_at=NOW, count=1, min_disruptions_allowed=1),
    )
    return p, f


def _drain(pods: int, workloads: int, *, evict: bool = True, local: int = 0) -> tuple[Proposal, Facts]:
    p = proposal("drain_node", {"name": "node-1", "evict_pods": evict})
    return p, replace(base_facts("Node"), node=node(pods, workloads, local=local))


def _scale(replicas: int, current: int) -> tuple[Proposal, Facts]:
    params = {"namespace": "shop", "name": "web", "kind": "Deployment", "replicas": replicas}
    f = replace(workload_facts(current), hpa=None)
    return proposal("scale_workload", params), f


def _restore_configmap(*, snapshot: bool) -> tuple[Proposal, Facts]:
    p = proposal("restore_configmap", {"namespace": "shop", "name": "web-config", "before": INCIDENT.isoformat()})
    f = replace(
        base_facts("ConfigMap"),
        consumers=ConsumerFacts(read_at=NOW, workloads=1, ready_replicas=3),
        revisions=RevisionFacts(
            read_at=NOW,
            revisions_before_incident=(),
            current_revision=None,
            current_predates_incident=False,
            snapshot_available=snapshot,
        ),
    )
    return p, f


def situations() -> list[Situation]:
    """The table: at least one case for each behaviour the issue names."""
    five_min_ago = (NOW - timedelta(minutes=5),)
    cases: list[Situation] = []

    def add(name: str, pf: tuple[Proposal, Facts], expected: Verdict, *, shadow: bool = False) -> None:
        cases.append(Situation(name, pf[0], pf[1], expected, shadow))

    add("restart of a 1-replica Deployment", (restart(), workload_facts(1)), Verdict.APPROVE)
    add("restart of a 10-replica Deployment", (restart(), workload_facts(10)), Verdict.EXECUTE)
    add(
        "restart of a 10-replica Deployment in a critical namespace",
        (restart(), workload_facts(10, tier=Tier.CRITICAL)),
        Verdict.EXECUTE,
    )
    add(
        "restart while a rollout is in flight",
        (restart(), replace(workload_facts(10), workload=workload(10, updated=4))),
        Verdict.APPROVE,
    )
    add("drain of a node running 40 pods of 12 workloads", _drain(40, 12), Verdict.APPROVE)
    add("drain of a node with 40 pods, 6 holding emptyDir data", _drain(40, 12, local=6), Verdict.APPROVE)
    add("cordon only of a node running 40 pods", _drain(40, 12, evict=False), Verdict.EXECUTE)
    add("eviction of a pod with emptyDir data", _evict(empty_dir=True), Verdict.APPROVE)
    add("eviction of a stateless pod with 3 ready replicas", _evict(empty_dir=False), Verdict.EXECUTE)
    add("rollback with a revision from before the incident", _rollback(("7", "6")), Verdict.APPROVE)
    add("rollback with no history and no snapshot", _rollback(()), Verdict.DENY)
    add("rollback with no history but a snapshot", _rollback((), snapshot=True), Verdict.APPROVE)
    add(
        "restart of a target acted on 5 minutes ago",
        (restart(), workload_facts(10, on_target=five_min_ago)),
        Verdict.DENY,
    )
    add(
        "a planner claim that contradicts the cluster",
        (restart(claims={"ready_replicas": 10}), workload_facts(2)),
        Verdict.APPROVE,
    )
    add(
        "a restart in protected namespace kube-system",
        (restart(namespace="kube-system"), workload_facts(10)),
        Verdict.DENY,
    )
    add("a safe restart with the kill switch engaged", (restart(), workload_facts(10, kill_switch=True)), Verdict.DENY)
    add("a safe restart in shadow mode", (restart(), workload_facts(10)), Verdict.EXECUTE, shadow=True)
    add("restart when the alert no longer fires", (restart(), workload_facts(10, firing=False)), Verdict.APPROVE)
    add("restart of a Deployment that does not exist", (restart(), workload_facts(10, exists=False)), Verdict.DENY)
    add("scale up from 3 to 5 replicas", _scale(5, 3), Verdict.EXECUTE)
    add("scale down from 4 to 0 replicas", _scale(0, 4), Verdict.DENY)
    add("restore a ConfigMap with a last-known-good copy", _restore_configmap(snapshot=True), Verdict.APPROVE)
    add("restore a ConfigMap with no snapshot", _restore_configmap(snapshot=False), Verdict.DENY)
    add(
        "scale a workload an HPA owns",
        (_scale(6, 3)[0], replace(_scale(6, 3)[1], hpa=HpaFacts(NOW, "web", 2, 8, 3))),
        Verdict.EXECUTE,
    )
    return cases
