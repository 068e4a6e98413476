"""The default runbook: each rule's proposal, its guards, and escalation when nothing applies."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from actions.base import ActionName, TargetRef
from agent.intake import Incident, Intake
from agent.planning.base import Escalation, Ignore, PlanResult
from agent.planning.runbook import RunbookPlanner
from risk.model import Proposal
from tests.agent.fixtures.cluster import (
    NOW,
    FakeCluster,
    configmap,
    container,
    controller_revision,
    deployment,
    meta,
    pod,
    replicaset,
)

STARTED = NOW - timedelta(minutes=10)


def incident(name: str, **labels: str) -> Incident:
    alert = {
        "labels": {"alertname": name, "severity": "warning", "job": "kube-state-metrics", **labels},
        "annotations": {},
        "startsAt": STARTED.isoformat(),
        "endsAt": (NOW + timedelta(minutes=5)).isoformat(),
        "fingerprint": f"fp-{name}",
        "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
    }
    result = Intake().ingest_poll([alert], now=NOW)
    assert len(result.new) == 1, result
    return result.new[0]


def plan(cluster: FakeCluster, name: str, **labels: str) -> PlanResult:
    result = RunbookPlanner(cluster).plan(incident(name, **labels), now=NOW)
    json.dumps(result.trace)  # the audit chain stores it as JSON
    return result


def proposal(result: PlanResult) -> Proposal:
    assert isinstance(result.decision, Proposal), result.decision
    return result.decision


def params(result: PlanResult) -> dict[str, Any]:
    return proposal(result).params.model_dump(mode="json")


def web_with_rollout(*, rolled_out_ago: timedelta, configmap_name: str | None = None) -> tuple[FakeCluster, str]:
    web = deployment("web", containers=[container("app", configmap=configmap_name)])
    old = replicaset(web, "5b6c7d8e9", revision=1, created=NOW - timedelta(days=3))
    new = replicaset(web, "7d9c8b6f5", revision=2, created=NOW - rolled_out_ago)
    return FakeCluster(web, old, new, pod("web-7d9c8b6f5-x2k9p", new)), "web-7d9c8b6f5-x2k9p"


def test_crashloop_after_recent_rollout_rolls_back_to_before_the_incident() -> None:
    cluster, pod_name = web_with_rollout(rolled_out_ago=timedelta(minutes=30))
    result = plan(cluster, "KubePodCrashLooping", namespace="prod", pod=pod_name, container="app")
    p = proposal(result)
    assert p.action is ActionName.ROLLBACK_WORKLOAD
    assert p.target == TargetRef("Deployment", "web", "prod")
    before = STARTED - timedelta(minutes=15) - timedelta(minutes=5)
    assert params(result) == {
        "kind": "Deployment",
        "namespace": "prod",
        "name": "web",
        "before": before.isoformat().replace("+00:00", "Z"),
        "to_revision": None,
    }
    assert p.incident_started_at == STARTED and p.alert_names == ("KubePodCrashLooping",)
    assert p.claims == {}  # the runbook claims nothing: the risk probes read for themselves
    assert result.trace["facts"]["revisions"] == 2 and result.trace["facts"]["rule"] == "crashloop-after-rollout"
    assert result.trace["rules"][-1] == {
        "rule": "crashloop-after-rollout",
        "alert": "fp-KubePodCrashLooping",
        "outcome": "proposed",
    }


def test_crashloop_without_recent_change_escalates_with_each_rules_reason() -> None:
    cluster, pod_name = web_with_rollout(rolled_out_ago=timedelta(days=2))
    result = plan(cluster, "KubePodCrashLooping", namespace="prod", pod=pod_name, container="app")
    assert isinstance(result.decision, Escalation)
    assert "crashloop-after-rollout: workload_changed_within" in result.decision.reason
    assert "oom-killed-raise-memory: oom_killed" in result.decision.reason


def test_crashloop_with_recently_changed_configmap_restores_it() -> None:
    cluster, pod_name = web_with_rollout(rolled_out_ago=timedelta(minutes=30), configmap_name="web-config")
    cluster.add(configmap("web-config", changed=NOW - timedelta(minutes=20)))
    result = plan(cluster, "KubePodCrashLooping", namespace="prod", pod=pod_name, container="app")
    assert proposal(result).action is ActionName.RESTORE_CONFIGMAP
    assert params(result)["name"] == "web-config"
    assert proposal(result).target == TargetRef("ConfigMap", "web-config", "prod")


def test_old_configmap_change_falls_through_to_rollback() -> None:
    cluster, pod_name = web_with_rollout(rolled_out_ago=timedelta(minutes=30), configmap_name="web-config")
    cluster.add(configmap("web-config", changed=NOW - timedelta(days=20)))
    result = plan(cluster, "KubePodCrashLooping", namespace="prod", pod=pod_name)
    assert proposal(result).action is ActionName.ROLLBACK_WORKLOAD


def test_oom_killed_container_gets_double_memory_limit() -> None:
    web = deployment("web", containers=[container("app", memory="256Mi"), container("proxy", memory="64Mi")])
    rs = replicaset(web, "7d9c8b6f5", revision=1, created=NOW - timedelta(days=3))
    cluster = FakeCluster(web, rs, pod("web-7d9c8b6f5-x2k9p", rs, oom="app"))
    result = plan(cluster, "KubeContainerOOMKilled", namespace="prod", pod="web-7d9c8b6f5-x2k9p", container="app")
    assert proposal(result).action is ActionName.SET_RESOURCES
    got = params(result)
    assert (got["container"], got["memory_limit"], got["memory_request"]) == ("app", "512Mi", None)
    assert result.trace["facts"]["memory_limit"] == "256Mi"


def test_statefulset_rollout_stuck_after_change_rolls_back_via_controller_revisions() -> None:
    db = deployment("db", kind="StatefulSet")
    cluster = FakeCluster(
        db,
        controller_revision(db, 1, created=NOW - timedelta(days=3)),
        controller_revision(db, 2, created=NOW - timedelta(hours=1)),
    )
    result = plan(cluster, "KubeStatefulSetReplicasMismatch", namespace="prod", statefulset="db")
    assert proposal(result).target == TargetRef("StatefulSet", "db", "prod")
    assert proposal(result).action is ActionName.ROLLBACK_WORKLOAD


def test_replicas_mismatch_on_a_deployment_scaled_to_zero_scales_it_up() -> None:
    cluster = FakeCluster(deployment("web", replicas=0))
    result = plan(cluster, "KubeDeploymentReplicasMismatch", namespace="prod", deployment="web")
    assert proposal(result).action is ActionName.SCALE_WORKLOAD
    assert params(result)["replicas"] == 1


def test_hpa_maxed_out_raises_the_hpa_bounds_of_its_workload() -> None:
    hpa = {
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta("web", "prod", created=NOW),
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 2, "maxReplicas": 30},
        "status": {"currentReplicas": 30},
    }
    result = plan(
        FakeCluster(deployment("web", replicas=30), hpa),
        "KubeHpaMaxedOut",
        namespace="prod",
        horizontalpodautoscaler="web",
    )
    assert proposal(result).target == TargetRef("Deployment", "web", "prod")
    assert params(result)["hpa_bounds"] == {"min_replicas": 2, "max_replicas": 50}
    assert params(result)["replicas"] == 50


def test_node_not_ready_drains_the_node_not_the_exporter_pod() -> None:
    node = {"kind": "Node", "metadata": meta("node-2", None, created=NOW)}
    result = plan(
        FakeCluster(node),
        "KubeNodeNotReady",
        node="node-2",
        namespace="monitoring",
        pod="kube-state-metrics-6f7c9d-abcde",
        container="kube-state-metrics",
    )
    assert proposal(result).action is ActionName.DRAIN_NODE
    assert params(result) == {"name": "node-2", "cordon": True, "evict_pods": True}


def test_failed_job_of_a_cronjob_suspends_the_cronjob() -> None:
    cron = {"kind": "CronJob", "metadata": meta("report", "prod", created=NOW), "spec": {}}
    job = {"kind": "Job", "metadata": meta("report-28790", "prod", created=NOW, owner=cron), "spec": {}}
    result = plan(FakeCluster(cron, job), "KubeJobFailed", namespace="prod", job_name="report-28790")
    assert proposal(result).target == TargetRef("CronJob", "report", "prod")
    assert params(result)["suspend"] is True


def test_failed_job_without_a_cronjob_escalates() -> None:
    job = {"kind": "Job", "metadata": meta("migrate", "prod", created=NOW), "spec": {}}
    result = plan(FakeCluster(job), "KubeJobFailed", namespace="prod", job_name="migrate")
    assert isinstance(result.decision, Escalation)
    assert "resolved to Job" in result.decision.reason


def test_deleted_service_without_endpoints_is_restored() -> None:
    result = plan(FakeCluster(), "KubeServiceWithoutEndpoints", namespace="prod", service="web")
    assert proposal(result).action is ActionName.RESTORE_SERVICE
    assert result.trace["facts"]["service_exists"] is False


def test_long_unchanged_service_without_endpoints_escalates() -> None:
    svc = {"kind": "Service", "metadata": meta("web", "prod", created=NOW - timedelta(days=40)), "spec": {}}
    result = plan(FakeCluster(svc), "KubeServiceWithoutEndpoints", namespace="prod", service="web")
    assert isinstance(result.decision, Escalation) and "unchanged" in result.decision.reason


def test_unknown_alert_escalates_naming_it() -> None:
    result = plan(FakeCluster(), "HighErrorRate", namespace="prod", service="web")
    assert result.decision == Escalation("no runbook rule for HighErrorRate")


def test_closed_incident_is_ignored() -> None:
    closed = incident("KubePodCrashLooping", namespace="prod", pod="web-1")
    closed.alerts.clear()
    assert isinstance(RunbookPlanner(FakeCluster()).plan(closed, now=NOW).decision, Ignore)


def test_hints_are_offered_per_alert_name() -> None:
    hints = RunbookPlanner(FakeCluster()).hints("KubeNodeNotReady")
    assert len(hints) == 1 and "cordon" in hints[0]


def test_planner_reads_time_from_the_argument_not_the_wall_clock() -> None:
    cluster, pod_name = web_with_rollout(rolled_out_ago=timedelta(minutes=30))
    later = NOW + timedelta(hours=7)
    result = RunbookPlanner(cluster).plan(incident("KubePodCrashLooping", namespace="prod", pod=pod_name), now=later)
    assert isinstance(result.decision, Escalation)


class RecordedChanges:
    """What the snapshot keeper would report: the agent saw these objects change."""

    def __init__(self, **changed: datetime) -> None:
        self.changed = changed

    def changed_at(self, kind: str, namespace: str | None, name: str) -> datetime | None:
        return self.changed.get(name.replace("-", "_"))


def test_configmap_change_seen_only_by_the_agents_history_still_counts() -> None:
    web = deployment("web", containers=[container("app", configmap="web-config")])
    rs = replicaset(web, "7d9c8b6f5", revision=1, created=NOW - timedelta(days=3))
    plain = {"kind": "ConfigMap", "metadata": meta("web-config", "prod", created=NOW - timedelta(days=30))}
    cluster = FakeCluster(web, rs, plain, pod("web-7d9c8b6f5-x2k9p", rs))
    inc = incident("KubePodCrashLooping", namespace="prod", pod="web-7d9c8b6f5-x2k9p")
    assert isinstance(RunbookPlanner(cluster).plan(inc, now=NOW).decision, Escalation)
    history = RecordedChanges(web_config=NOW - timedelta(minutes=30))
    result = RunbookPlanner(cluster, history=history).plan(inc, now=NOW)
    assert proposal(result).action is ActionName.RESTORE_CONFIGMAP


def test_configmap_changed_before_a_later_rollout_leaves_the_fix_to_rollback() -> None:
    cluster, pod_name = web_with_rollout(rolled_out_ago=timedelta(minutes=10), configmap_name="web-config")
    cluster.add(configmap("web-config", changed=NOW - timedelta(hours=2)))
    result = plan(cluster, "KubePodCrashLooping", namespace="prod", pod=pod_name)
    assert proposal(result).action is ActionName.ROLLBACK_WORKLOAD


def test_service_without_endpoints_scales_up_the_workload_it_selects_at_zero() -> None:
    web = deployment("web", replicas=0)
    web["spec"]["template"]["metadata"] = {"labels": {"app": "web"}}
    other = deployment("db")
    other["spec"]["template"]["metadata"] = {"labels": {"app": "db"}}
    svc = {"kind": "Service", "metadata": meta("web", "prod", created=NOW), "spec": {"selector": {"app": "web"}}}
    result = plan(FakeCluster(web, other, svc), "KubeServiceWithoutEndpoints", namespace="prod", service="web")
    assert proposal(result).target == TargetRef("Deployment", "web", "prod")
    assert proposal(result).action is ActionName.SCALE_WORKLOAD


def test_recreated_workload_without_controller_history_rolls_back_from_the_agents_records() -> None:
    web = deployment("web", containers=[container("app")])
    only = replicaset(web, "7d9c8b6f5", revision=1, created=NOW - timedelta(minutes=25))
    cluster = FakeCluster(web, only, pod("web-7d9c8b6f5-x2k9p", only))
    inc = incident("KubePodCrashLooping", namespace="prod", pod="web-7d9c8b6f5-x2k9p")
    without = RunbookPlanner(cluster).plan(inc, now=NOW).decision
    assert isinstance(without, Escalation) and "no earlier revision" in without.reason
    history = RecordedChanges(web=NOW - timedelta(minutes=25))  # the keeper saw it re-created
    result = RunbookPlanner(cluster, history=history).plan(inc, now=NOW)
    assert proposal(result).action is ActionName.ROLLBACK_WORKLOAD
    assert result.trace["facts"]["history"] == "snapshots"


def test_a_workload_the_agent_saw_change_long_ago_is_not_rolled_back_from_records() -> None:
    web = deployment("web", containers=[container("app")])
    only = replicaset(web, "7d9c8b6f5", revision=1, created=NOW - timedelta(days=3))
    cluster = FakeCluster(web, only, pod("web-7d9c8b6f5-x2k9p", only))
    inc = incident("KubePodCrashLooping", namespace="prod", pod="web-7d9c8b6f5-x2k9p")
    history = RecordedChanges(web=NOW - timedelta(days=3))
    assert isinstance(RunbookPlanner(cluster, history=history).plan(inc, now=NOW).decision, Escalation)


def _with_template(rs: dict[str, Any], image: str, restarted_at: str | None = None) -> dict[str, Any]:
    annotations = {"kubectl.kubernetes.io/restartedAt": restarted_at} if restarted_at else {}
    rs["spec"] = {
        "template": {
            "metadata": {
                "labels": {"app": "web", "pod-template-hash": rs["metadata"]["name"]},
                "annotations": annotations,
            },
            "spec": {"containers": [{"name": "app", "image": image}]},
        }
    }
    return rs


def test_a_crash_loop_after_a_mere_restart_is_not_rolled_back() -> None:
    web = deployment("web", containers=[container("app")])
    old = _with_template(replicaset(web, "5b6c7d8e9", revision=1, created=NOW - timedelta(days=3)), "app:1")
    new = _with_template(
        replicaset(web, "7d9c8b6f5", revision=2, created=NOW - timedelta(minutes=30)), "app:1", "2026-01-01T00:00:00Z"
    )
    cluster = FakeCluster(web, old, new, pod("web-7d9c8b6f5-x2k9p", new))
    result = plan(cluster, "KubePodCrashLooping", namespace="prod", pod="web-7d9c8b6f5-x2k9p")
    assert isinstance(result.decision, Escalation)
    assert "only restarted" in result.decision.reason


def test_a_crash_loop_after_a_real_template_change_is_rolled_back() -> None:
    web = deployment("web", containers=[container("app")])
    old = _with_template(replicaset(web, "5b6c7d8e9", revision=1, created=NOW - timedelta(days=3)), "app:1")
    new = _with_template(replicaset(web, "7d9c8b6f5", revision=2, created=NOW - timedelta(minutes=30)), "app:2")
    cluster = FakeCluster(web, old, new, pod("web-7d9c8b6f5-x2k9p", new))
    result = plan(cluster, "KubePodCrashLooping", namespace="prod", pod="web-7d9c8b6f5-x2k9p")
    assert proposal(result).action is ActionName.ROLLBACK_WORKLOAD


def test_a_patch_then_a_restart_is_still_rolled_back_past_the_patch() -> None:
    web = deployment("web", containers=[container("app")])
    good = _with_template(replicaset(web, "5b6c7d8e9", revision=1, created=NOW - timedelta(days=3)), "app:1")
    patched = _with_template(replicaset(web, "6c7d8e9f0", revision=2, created=STARTED - timedelta(minutes=16)), "app:2")
    restarted = _with_template(
        replicaset(web, "7d9c8b6f5", revision=3, created=STARTED - timedelta(minutes=10)),
        "app:2",
        "2026-01-01T00:00:00Z",
    )
    cluster = FakeCluster(web, good, patched, restarted, pod("web-7d9c8b6f5-x2k9p", restarted))
    result = plan(cluster, "KubePodCrashLooping", namespace="prod", pod="web-7d9c8b6f5-x2k9p")
    assert proposal(result).action is ActionName.ROLLBACK_WORKLOAD
