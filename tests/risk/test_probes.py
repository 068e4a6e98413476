"""Probes read facts from the cluster, the history and the alert source, never from the planner."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from actions.base import TargetRef
from risk.facts import Tier
from risk.probes import probe
from tests.risk.builders import INCIDENT, NOW, proposal, restart
from tests.risk.fakes import FakeAlerts, FakeHistory, FakeReader

Obj = dict[str, Any]


def _ts(delta_minutes: float) -> str:
    return (INCIDENT + timedelta(minutes=delta_minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _deployment(ready: int = 3, revision: str = "3") -> Obj:
    return {
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "uid": "d1",
            "generation": 4,
            "annotations": {"deployment.kubernetes.io/revision": revision},
        },
        "spec": {"replicas": 3, "template": {"metadata": {"labels": {"app": "web"}}}},
        "status": {"observedGeneration": 4, "readyReplicas": ready, "updatedReplicas": 3, "replicas": 3},
    }


def _rs(revision: str, created: float, *, ready: int = 0) -> Obj:
    return {
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"web-{revision}",
            "namespace": "shop",
            "uid": f"rs{revision}",
            "creationTimestamp": _ts(created),
            "annotations": {"deployment.kubernetes.io/revision": revision},
            "ownerReferences": [{"kind": "Deployment", "name": "web", "uid": "d1", "controller": True}],
        },
        "spec": {"replicas": 3},
        "status": {"readyReplicas": ready, "replicas": 3},
    }


def _pdb(allowed: int) -> Obj:
    return {
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}},
        "status": {"disruptionsAllowed": allowed},
    }


def _namespace(tier: str | None) -> Obj:
    labels = {"scutum.dev/tier": tier} if tier else {}
    return {"kind": "Namespace", "metadata": {"name": "shop", "labels": labels}}


def _pod(name: str, *, owner: tuple[str, str] | None, volumes: list[Obj] | None = None, mirror: bool = False) -> Obj:
    meta: Obj = {"name": name, "namespace": "shop", "labels": {"app": "web"}}
    if owner:
        meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "uid": "o", "controller": True}]
    if mirror:
        meta["annotations"] = {"kubernetes.io/config.mirror": "x"}
    return {"kind": "Pod", "metadata": meta, "spec": {"nodeName": "node-1", "volumes": volumes or []}, "status": {}}


def _probe(p: Any, objects: list[Obj], **kw: Any) -> Any:
    history = kw.pop("history", FakeHistory())
    alerts = kw.pop("alerts", FakeAlerts({"fp-1": True}))
    return probe(p, reader=FakeReader(objects), history=history, alerts=alerts, now=NOW)


def test_rollback_history_counts_only_revisions_created_before_the_incident() -> None:
    rollback = proposal(
        "rollback_workload",
        {"namespace": "shop", "name": "web", "kind": "Deployment", "before": INCIDENT.isoformat()},
    )
    objects = [_deployment(), _rs("1", -120), _rs("2", -60), _rs("3", 2, ready=3), _pdb(1), _namespace(None)]
    facts = _probe(rollback, objects)
    assert facts.revisions is not None
    assert facts.revisions.revisions_before_incident == ("2", "1")
    assert facts.revisions.current_revision == "3"
    assert not facts.revisions.current_predates_incident
    assert facts.workload is not None and facts.workload.last_change_at is not None
    assert facts.pdb is not None and facts.pdb.min_disruptions_allowed == 1


def test_workload_probe_reads_replicas_and_tier_with_few_reads() -> None:
    facts = _probe(restart(), [_deployment(ready=2), _rs("3", -5), _pdb(0), _namespace("critical")])
    assert facts.target.exists
    assert facts.workload is not None
    assert (facts.workload.ready_replicas, facts.workload.desired_replicas) == (2, 3)
    assert facts.environment.tier is Tier.CRITICAL
    assert facts.pdb is not None and facts.pdb.min_disruptions_allowed == 0
    assert facts.api_reads <= 4


def test_missing_target_is_a_fact_not_an_error() -> None:
    facts = _probe(restart(), [_namespace(None)])
    assert not facts.target.exists
    assert facts.workload is None


def test_pod_probe_sees_emptydir_and_the_owner_replica_count() -> None:
    pod = _pod("web-3-a", owner=("ReplicaSet", "web-3"), volumes=[{"name": "scratch", "emptyDir": {}}])
    evict = proposal("evict_pod", {"namespace": "shop", "name": "web-3-a"})
    facts = _probe(evict, [pod, _rs("3", -5, ready=3), _pdb(1), _namespace(None)])
    assert facts.pod is not None and facts.pod.has_empty_dir
    assert facts.target.owner_kind == "ReplicaSet"
    assert facts.workload is not None and facts.workload.ready_replicas == 3


def test_node_probe_counts_movable_pods_workloads_and_local_data() -> None:
    pods = [
        _pod("a", owner=("ReplicaSet", "web-1")),
        _pod("b", owner=("ReplicaSet", "web-1"), volumes=[{"name": "v", "emptyDir": {}}]),
        _pod("c", owner=("ReplicaSet", "api-1")),
        _pod("d", owner=None),
        _pod("e", owner=("DaemonSet", "exporter")),
        _pod("f", owner=None, mirror=True),
    ]
    node = {
        "kind": "Node",
        "metadata": {"name": "node-1"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    facts = _probe(proposal("drain_node", {"name": "node-1", "evict_pods": True}), [node, *pods, _pdb(1)])
    n = facts.node
    assert n is not None
    assert (n.pod_count, n.workload_count, n.local_storage_pods) == (4, 3, 1)
    assert (n.daemonset_or_mirror_pods, n.unowned_pods, n.ready) == (2, 1, True)


def test_history_and_alert_facts_come_from_their_sources() -> None:
    target = TargetRef("Deployment", "web", "shop")
    other = TargetRef("Deployment", "api", "shop")
    history = FakeHistory(
        actions=[
            (NOW - timedelta(minutes=5), target),
            (NOW - timedelta(minutes=20), other),
            (NOW - timedelta(hours=3), target),
        ],
        incidents=4,
        paused=True,
    )
    facts = _probe(restart(), [_deployment(), _namespace(None)], history=history, alerts=FakeAlerts({"fp-1": False}))
    assert facts.activity.on_target == (NOW - timedelta(minutes=5),)
    assert len(facts.activity.in_namespace) == 2
    assert facts.environment.open_incidents == 4
    assert facts.environment.kill_switch
    assert facts.environment.alert_firing is False


def test_alert_state_is_unknown_when_the_source_cannot_tell() -> None:
    facts = _probe(restart(), [_deployment()], alerts=FakeAlerts({}))
    assert facts.environment.alert_firing is None


def test_configmap_probe_counts_consuming_workloads() -> None:
    consumer = _deployment()
    consumer["spec"]["template"]["spec"] = {"volumes": [{"name": "cfg", "configMap": {"name": "web-config"}}]}
    cm = {"kind": "ConfigMap", "metadata": {"name": "web-config", "namespace": "shop"}}
    p = proposal("restore_configmap", {"namespace": "shop", "name": "web-config", "before": INCIDENT.isoformat()})
    facts = _probe(p, [cm, consumer, _namespace(None)])
    assert facts.consumers is not None
    assert (facts.consumers.workloads, facts.consumers.ready_replicas) == (1, 3)
    assert facts.revisions is not None and not facts.revisions.snapshot_available
