"""Each fault makes its alert fire after the pending period, and a matching manual fix clears it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from simcluster.alerts import RULES
from simcluster.cluster import SimCluster
from simcluster.controllers.nodes import ANNOTATION_DISK, ANNOTATION_KUBELET

Obj = dict[str, Any]
STEP = 30.0


def firing(cluster: SimCluster) -> set[str]:
    return {a["labels"]["alertname"] for a in cluster.firing_alerts()}


def tick_until(cluster: SimCluster, done: Callable[[], bool], *, limit: int = 80) -> int:
    for step in range(1, limit + 1):
        cluster.tick(STEP)
        if done():
            return step
    raise AssertionError(f"condition not reached in {limit} ticks; firing: {sorted(firing(cluster))}")


def rollback(cluster: SimCluster, namespace: str, deployment: str) -> None:
    """What `kubectl rollout undo` does: copy revision 1's ReplicaSet template into the Deployment."""
    rs = next(
        r
        for r in cluster.store.list("ReplicaSet", namespace)[0]
        if r["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
        and r["metadata"]["ownerReferences"][0]["name"] == deployment
    )
    template = rs["spec"]["template"]
    template["metadata"]["labels"].pop("pod-template-hash")

    def change(obj: Obj) -> None:
        obj["spec"]["template"] = template

    cluster.store.mutate("Deployment", namespace, deployment, change)


def undo(deployment: str) -> Callable[[SimCluster], None]:
    return lambda cluster: rollback(cluster, "shop", deployment)


def set_path(kind: str, namespace: str | None, name: str, edit: Callable[[Obj], None]) -> Callable[[SimCluster], None]:
    def fix(cluster: SimCluster) -> None:
        cluster.store.mutate(kind, namespace, name, edit)

    return fix


def drop_node_annotation(key: str) -> Callable[[SimCluster], None]:
    return set_path("Node", None, "node-2", lambda o: o["metadata"]["annotations"].pop(key))


def delete_jobs(cluster: SimCluster) -> None:
    for job in cluster.store.list("Job", "batch")[0]:
        cluster.store.delete("Job", "batch", job["metadata"]["name"])


def fix_runaway(cluster: SimCluster) -> None:
    set_path("CronJob", "batch", "nightly-report", lambda o: o["spec"].__setitem__("suspend", True))(cluster)
    delete_jobs(cluster)


def fix_failing(cluster: SimCluster) -> None:
    def change(obj: Obj) -> None:
        obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0].pop("env")

    cluster.store.mutate("CronJob", "batch", "nightly-report", change)
    delete_jobs(cluster)


def restore_service(cluster: SimCluster) -> None:
    cluster.store.create(
        "Service",
        {
            "metadata": {"name": "cart", "namespace": "shop"},
            "spec": {"selector": {"app": "cart"}, "ports": [{"port": 80, "targetPort": 7070}]},
        },
    )


def force_delete_frontend_pods(cluster: SimCluster) -> None:
    for pod in cluster.store.list("Pod", "shop", label_selector="app=frontend")[0]:
        if pod["metadata"].get("deletionTimestamp"):
            cluster.store.delete("Pod", "shop", pod["metadata"]["name"], grace_period_seconds=0)


def revert_daemonset(cluster: SimCluster) -> None:
    def change(obj: Obj) -> None:
        obj["spec"]["template"]["spec"]["containers"][0]["image"] = "quay.io/prometheus/node-exporter:v1.8.1"

    cluster.store.mutate("DaemonSet", "monitoring", "node-exporter", change)


SHOP = {"namespace": "shop"}
EXPORTER = {"namespace": "monitoring", "daemonset": "node-exporter"}
CASES: list[tuple[str, Obj, str, Callable[[SimCluster], None]]] = [
    ("bad_image_rollout", SHOP | {"deployment": "frontend"}, "KubeDeploymentRolloutStuck", undo("frontend")),
    ("bad_env", SHOP | {"deployment": "cart"}, "KubePodCrashLooping", undo("cart")),
    (
        "bad_configmap_value",
        SHOP | {"configmap": "cart-config", "key": "CART_TTL"},
        "KubePodCrashLooping",
        set_path("ConfigMap", "shop", "cart-config", lambda o: o["data"].__setitem__("CART_TTL", "3600")),
    ),
    (
        "service_selector_broken",
        SHOP | {"service": "cart"},
        "KubeServiceWithoutEndpoints",
        set_path("Service", "shop", "cart", lambda o: o["spec"].__setitem__("selector", {"app": "cart"})),
    ),
    (
        "service_targetport_broken",
        SHOP | {"service": "cart"},
        "KubeServiceWithoutEndpoints",
        set_path("Service", "shop", "cart", lambda o: o["spec"]["ports"][0].__setitem__("targetPort", 7070)),
    ),
    ("service_deleted", SHOP | {"service": "cart"}, "KubeServiceWithoutEndpoints", restore_service),
    (
        "scale_to_zero",
        SHOP | {"deployment": "catalog"},
        "KubeServiceWithoutEndpoints",
        set_path("Deployment", "shop", "catalog", lambda o: o["spec"].__setitem__("replicas", 2)),
    ),
    ("memory_limit_too_low", SHOP | {"deployment": "catalog"}, "KubeContainerOOMKilled", undo("catalog")),
    ("memory_leak", SHOP | {"deployment": "catalog"}, "KubeContainerOOMKilled", undo("catalog")),
    ("node_not_ready", {"node": "node-2"}, "KubeNodeNotReady", drop_node_annotation(ANNOTATION_KUBELET)),
    ("node_disk_pressure", {"node": "node-2"}, "KubeNodePressure", drop_node_annotation(ANNOTATION_DISK)),
    ("cronjob_runaway", {"namespace": "batch", "cronjob": "nightly-report"}, "KubeJobNotCompleted", fix_runaway),
    ("cronjob_failing", {"namespace": "batch", "cronjob": "nightly-report"}, "KubeJobFailed", fix_failing),
    (
        "hpa_maxed_out",
        SHOP | {"hpa": "cart"},
        "KubeHpaMaxedOut",
        set_path("HorizontalPodAutoscaler", "shop", "cart", lambda o: o["spec"].__setitem__("maxReplicas", 20)),
    ),
    ("pod_stuck_terminating", SHOP | {"pod": "FRONTEND"}, "KubePodStuckTerminating", force_delete_frontend_pods),
    ("daemonset_bad_rollout", EXPORTER, "KubeDaemonSetRolloutStuck", revert_daemonset),
]  # fmt: skip


@pytest.fixture
def cluster() -> SimCluster:
    cluster = SimCluster(seed=7)
    cluster.load_estate("sample")
    cluster.settle()
    return cluster


def test_sample_estate_is_healthy_and_quiet(cluster: SimCluster) -> None:
    for _ in range(10):
        cluster.tick(STEP)
    assert cluster.firing_alerts() == []
    pods = cluster.store.list("Pod")[0]
    assert len(pods) >= 15
    assert all(p["status"]["phase"] == "Running" for p in pods)


@pytest.mark.parametrize(("fault", "params", "alert", "fix"), CASES, ids=[c[0] for c in CASES])
def test_fault_fires_its_alert_and_the_fix_clears_it(
    cluster: SimCluster, fault: str, params: Obj, alert: str, fix: Callable[[SimCluster], None]
) -> None:
    if params.get("pod") == "FRONTEND":
        params = params | {
            "pod": cluster.store.list("Pod", "shop", label_selector="app=frontend")[0][0]["metadata"]["name"]
        }
    cluster.inject(fault, **params)
    cluster.tick(1)
    if next(r for r in RULES if r.name == alert).for_seconds > 0:
        assert alert not in firing(cluster)  # still pending
    tick_until(cluster, lambda: alert in firing(cluster), limit=140)
    fix(cluster)
    tick_until(cluster, lambda: alert not in firing(cluster), limit=40)


def test_statefulset_rollback_needs_the_stuck_pod_deleted(cluster: SimCluster) -> None:
    cluster.inject("statefulset_bad_rollout", namespace="payments", statefulset="ledger")
    tick_until(cluster, lambda: "KubeStatefulSetUpdateNotRolledOut" in firing(cluster))
    revision = min(cluster.store.list("ControllerRevision", "payments")[0], key=lambda r: r["revision"])
    template = {k: v for k, v in revision["data"]["spec"]["template"].items() if k != "$patch"}
    cluster.store.mutate("StatefulSet", "payments", "ledger", lambda o: o["spec"].__setitem__("template", template))
    for _ in range(10):
        cluster.tick(STEP)
    assert "KubeStatefulSetReplicasMismatch" in firing(cluster)  # OrderedReady waits on the broken pod
    cluster.store.delete("Pod", "payments", "ledger-2")
    tick_until(
        cluster, lambda: not firing(cluster) & {"KubeStatefulSetReplicasMismatch", "KubeStatefulSetUpdateNotRolledOut"}
    )
    status = cluster.store.get("StatefulSet", "payments", "ledger")["status"]
    assert status["currentRevision"] == status["updateRevision"] == revision["metadata"]["name"]


def test_control_fault_changes_nothing(cluster: SimCluster) -> None:
    before = cluster.store.digest()
    assert cluster.inject("none") == {"fault": "none", "params": {}, "changed": None}
    assert cluster.store.digest() == before


def test_unknown_fault_or_bad_params_is_a_value_error(cluster: SimCluster) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        cluster.inject("meteor_strike")
    with pytest.raises(ValueError, match="takes parameters"):
        cluster.inject("bad_env", namespace="shop")
    with pytest.raises(ValueError, match="takes parameters"):
        cluster.inject("bad_env", namespace="shop", deployment="cart", extra="x")
    with pytest.raises(ValueError, match="not found"):
        cluster.inject("bad_env", namespace="shop", deployment="nope")


def test_catalogue_lists_every_fault_with_params() -> None:
    catalogue = {f["name"]: f for f in SimCluster().faults()}
    assert catalogue["bad_configmap_value"]["params"] == ["namespace", "configmap", "key"]
    assert catalogue["node_not_ready"]["params"] == ["node"]
    assert all(f["summary"] for f in catalogue.values())
    assert set(catalogue) >= {c[0] for c in CASES} | {"statefulset_bad_rollout", "none"}


def test_fault_without_params_targets_the_sample_estate(cluster: SimCluster) -> None:
    result = cluster.inject("bad_image_rollout")
    assert result["params"] == {"namespace": "shop", "deployment": "frontend"}
    image = cluster.store.get("Deployment", "shop", "frontend")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.endswith(":doesnotexist")
    assert cluster.inject("pod_stuck_terminating")["params"]["pod"].startswith("frontend-")
