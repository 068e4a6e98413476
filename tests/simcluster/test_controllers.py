"""Controllers at the SimCluster level: rollouts, undo, history, cascading delete, eviction, HPA, scheduling."""

from __future__ import annotations

from typing import Any

import pytest

from simcluster.cluster import SimCluster
from simcluster.errors import TooManyRequests

Obj = dict[str, Any]
REVISION = "deployment.kubernetes.io/revision"


def make_cluster() -> SimCluster:
    cluster = SimCluster(seed=1)
    cluster.load_estate("bare")
    cluster.store.create("Namespace", {"metadata": {"name": "app"}})
    return cluster


def web(replicas: int = 4, image: str = "nginx:1.25", **spec: Any) -> Obj:
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": image}]}}
    return {
        "metadata": {"name": "web", "namespace": "app"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}, "template": template, **spec},
    }


def set_image(cluster: SimCluster, image: str) -> None:
    def change(obj: Obj) -> None:
        obj["spec"]["template"]["spec"]["containers"][0]["image"] = image

    cluster.store.mutate("Deployment", "app", "web", change)


def replicasets(cluster: SimCluster) -> dict[str, Obj]:
    return {rs["metadata"]["annotations"][REVISION]: rs for rs in cluster.store.list("ReplicaSet", "app")[0]}


def settle(cluster: SimCluster, passes: int = 12) -> None:
    for _ in range(passes):
        cluster.tick(5)


def test_deployment_creates_replicaset_and_ready_pods_owned_by_it() -> None:
    cluster = make_cluster()
    cluster.store.create("Deployment", web())
    settle(cluster)
    (rs,) = cluster.store.list("ReplicaSet", "app")[0]
    pods = cluster.store.list("Pod", "app")[0]
    assert rs["metadata"]["name"] == f"web-{rs['metadata']['labels']['pod-template-hash']}"
    assert len(pods) == 4
    assert all(p["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"] for p in pods)
    assert all(p["metadata"]["ownerReferences"][0]["controller"] is True for p in pods)
    status = cluster.store.get("Deployment", "app", "web")["status"]
    assert status["readyReplicas"] == status["availableReplicas"] == status["updatedReplicas"] == 4
    progressing = next(c for c in status["conditions"] if c["type"] == "Progressing")
    assert progressing["reason"] == "NewReplicaSetAvailable"


def test_rollout_creates_a_new_revision_within_surge_and_unavailability_bounds() -> None:
    cluster = make_cluster()
    cluster.store.create("Deployment", web(strategy={"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}))
    settle(cluster)
    set_image(cluster, "nginx:1.26")
    for _ in range(20):
        cluster.tick(5)
        pods = [p for p in cluster.store.list("Pod", "app")[0] if not p["metadata"].get("deletionTimestamp")]
        assert len(pods) <= 5
        status = cluster.store.get("Deployment", "app", "web")["status"]
        assert status.get("availableReplicas", 0) >= 4
    revisions = replicasets(cluster)
    assert set(revisions) == {"1", "2"}
    assert revisions["1"]["spec"]["replicas"] == 0
    assert revisions["2"]["spec"]["replicas"] == 4
    deploy = cluster.store.get("Deployment", "app", "web")
    assert deploy["metadata"]["annotations"][REVISION] == "2"
    assert deploy["status"]["observedGeneration"] == deploy["metadata"]["generation"] == 2


def test_rollout_undo_by_copying_an_old_template_reuses_its_replicaset() -> None:
    cluster = make_cluster()
    cluster.store.create("Deployment", web())
    settle(cluster)
    set_image(cluster, "nginx:doesnotexist")
    settle(cluster)
    template = replicasets(cluster)["1"]["spec"]["template"]
    template["metadata"]["labels"].pop("pod-template-hash")
    cluster.store.mutate("Deployment", "app", "web", lambda o: o["spec"].__setitem__("template", template))
    settle(cluster)
    revisions = replicasets(cluster)
    assert set(revisions) == {"2", "3"}  # revision 1's ReplicaSet came back as revision 3
    assert revisions["3"]["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    assert revisions["2"]["spec"]["replicas"] == 0
    pods = cluster.store.list("Pod", "app")[0]
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {"nginx:1.25"}
    assert all(p["status"]["phase"] == "Running" for p in pods)


def test_revision_history_limit_prunes_old_replicasets() -> None:
    cluster = make_cluster()
    cluster.store.create("Deployment", web(replicas=1, revisionHistoryLimit=2))
    for version in range(5):
        set_image(cluster, f"nginx:1.{version}")
        settle(cluster, 6)
    assert sorted(int(r) for r in replicasets(cluster)) == [3, 4, 5]  # five revisions, the newest plus two kept


def test_stuck_rollout_reports_progress_deadline_exceeded() -> None:
    cluster = make_cluster()
    cluster.store.create("Deployment", web(progressDeadlineSeconds=120))
    settle(cluster)
    set_image(cluster, "nginx:doesnotexist")
    for _ in range(40):
        cluster.tick(5)
    conditions = {c["type"]: c for c in cluster.store.get("Deployment", "app", "web")["status"]["conditions"]}
    assert conditions["Progressing"]["reason"] == "ProgressDeadlineExceeded"
    assert conditions["Available"]["status"] == "True"


def test_deleting_a_deployment_cascades_to_replicasets_and_pods() -> None:
    cluster = make_cluster()
    cluster.store.create("Deployment", web())
    settle(cluster)
    cluster.store.delete("Deployment", "app", "web")
    cluster.tick(1)
    assert cluster.store.list("ReplicaSet", "app")[0] == []
    assert cluster.store.list("Pod", "app")[0] == []


def test_eviction_blocked_by_pdb_raises_too_many_requests() -> None:
    cluster = make_cluster()
    cluster.store.create("Deployment", web(replicas=2))
    pdb = {
        "metadata": {"name": "web", "namespace": "app"},
        "spec": {"minAvailable": "100%", "selector": {"matchLabels": {"app": "web"}}},
    }
    cluster.store.create("PodDisruptionBudget", pdb)
    settle(cluster)
    status = cluster.store.get("PodDisruptionBudget", "app", "web")["status"]
    assert (
        status["currentHealthy"],
        status["desiredHealthy"],
        status["disruptionsAllowed"],
        status["expectedPods"],
    ) == (2, 2, 0, 2)
    pod = cluster.store.list("Pod", "app")[0][0]["metadata"]["name"]
    with pytest.raises(TooManyRequests) as caught:
        cluster.evict("app", pod)
    assert caught.value.code == 429
    assert cluster.store.try_get("Pod", "app", pod) is not None


def test_eviction_allowed_by_max_unavailable_removes_the_pod() -> None:
    cluster = make_cluster()
    cluster.store.create("Deployment", web(replicas=3))
    pdb = {
        "metadata": {"name": "web", "namespace": "app"},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}},
    }
    cluster.store.create("PodDisruptionBudget", pdb)
    settle(cluster)
    pod = cluster.store.list("Pod", "app")[0][0]["metadata"]["name"]
    cluster.evict("app", pod, dry_run=True)
    assert cluster.store.try_get("Pod", "app", pod) is not None
    cluster.evict("app", pod)
    assert cluster.store.try_get("Pod", "app", pod) is None
    settle(cluster, 3)
    assert len(cluster.store.list("Pod", "app")[0]) == 3


@pytest.mark.parametrize(("load", "expected", "limited"), [("50", 6, "True"), ("4", 4, "False"), ("0", 2, "True")])
def test_hpa_keeps_replicas_within_bounds(load: str, expected: int, limited: str) -> None:
    cluster = make_cluster()
    cluster.store.create("Deployment", web(replicas=3))
    hpa = {
        "metadata": {"name": "web", "namespace": "app", "annotations": {"sim.scutum.dev/load": load}},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2,
            "maxReplicas": 6,
        },
    }
    cluster.store.create("HorizontalPodAutoscaler", hpa)
    settle(cluster)
    assert cluster.store.get("Deployment", "app", "web")["spec"]["replicas"] == expected
    status = cluster.store.get("HorizontalPodAutoscaler", "app", "web")["status"]
    assert status["currentReplicas"] == status["desiredReplicas"] == expected
    assert next(c for c in status["conditions"] if c["type"] == "ScalingLimited")["status"] == limited


def test_scheduler_honours_cordon_node_selector_and_requests() -> None:
    cluster = make_cluster()
    cluster.store.mutate("Node", None, "node-1", lambda o: o["spec"].__setitem__("unschedulable", True))
    cluster.store.mutate("Node", None, "node-3", lambda o: o["metadata"]["labels"].__setitem__("disk", "ssd"))
    big = web(replicas=3)
    container = big["spec"]["template"]["spec"]["containers"][0]
    container["resources"] = {"requests": {"cpu": "1500m", "memory": "1Gi"}}
    big["spec"]["template"]["spec"]["nodeSelector"] = {"disk": "ssd"}
    cluster.store.create("Deployment", big)
    settle(cluster)
    pods = cluster.store.list("Pod", "app")[0]
    placed = [p for p in pods if p["spec"].get("nodeName")]
    assert {p["spec"]["nodeName"] for p in placed} == {"node-3"}
    assert len(placed) == 2  # 4 CPUs hold two 1.5-CPU pods
    pending = next(p for p in pods if not p["spec"].get("nodeName"))
    scheduled = next(c for c in pending["status"]["conditions"] if c["type"] == "PodScheduled")
    assert scheduled["reason"] == "Unschedulable"


def test_pods_on_a_lost_node_are_replaced_elsewhere() -> None:
    cluster = make_cluster()
    cluster.store.create("Deployment", web(replicas=3))
    settle(cluster)
    cluster.inject("node_not_ready", node="node-1")
    for _ in range(70):
        cluster.tick(5)
    pods = cluster.store.list("Pod", "app")[0]
    assert len(pods) == 3
    assert all(p["spec"]["nodeName"] != "node-1" and p["status"]["phase"] == "Running" for p in pods)


def test_crashing_container_backs_off_with_rising_restart_count() -> None:
    cluster = make_cluster()
    cluster.store.create("Deployment", web(replicas=1, image="example/crashloop:1"))
    counts = []
    for _ in range(30):
        cluster.tick(20)
        (pod,) = cluster.store.list("Pod", "app")[0]
        counts.append(pod["status"]["containerStatuses"][0]["restartCount"])
    status = pod["status"]["containerStatuses"][0]
    assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert counts == sorted(counts) and counts[-1] >= 3
    assert pod["status"]["phase"] == "Running" and not status["ready"]


def test_statefulset_creates_ordered_pods_and_controller_revisions() -> None:
    cluster = make_cluster()
    sts = web(replicas=3)
    sts["metadata"]["name"] = "db"
    cluster.store.create("StatefulSet", sts)
    cluster.tick(1)
    assert [p["metadata"]["name"] for p in cluster.store.list("Pod", "app")[0]] == ["db-0"]
    settle(cluster)
    pods = cluster.store.list("Pod", "app")[0]
    assert [p["metadata"]["name"] for p in pods] == ["db-0", "db-1", "db-2"]
    (revision,) = cluster.store.list("ControllerRevision", "app")[0]
    assert {p["metadata"]["labels"]["controller-revision-hash"] for p in pods} == {revision["metadata"]["name"]}
    status = cluster.store.get("StatefulSet", "app", "db")["status"]
    assert status["currentRevision"] == status["updateRevision"] == revision["metadata"]["name"]
    assert status["readyReplicas"] == 3


def test_daemonset_runs_one_pod_per_node() -> None:
    cluster = make_cluster()
    ds = web()
    ds["metadata"]["name"] = "agent"
    del ds["spec"]["replicas"]
    cluster.store.create("DaemonSet", ds)
    settle(cluster)
    pods = cluster.store.list("Pod", "app")[0]
    assert sorted(p["spec"]["nodeName"] for p in pods) == ["node-1", "node-2", "node-3"]
    status = cluster.store.get("DaemonSet", "app", "agent")["status"]
    assert status["desiredNumberScheduled"] == status["numberReady"] == status["updatedNumberScheduled"] == 3


def test_service_endpoints_follow_ready_pods() -> None:
    cluster = make_cluster()
    deploy = web(replicas=2)
    deploy["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 80}]
    cluster.store.create("Deployment", deploy)
    cluster.store.create(
        "Service",
        {
            "metadata": {"name": "web", "namespace": "app"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
        },
    )
    settle(cluster)
    (subset,) = cluster.store.get("Endpoints", "app", "web")["subsets"]
    assert len(subset["addresses"]) == 2
    assert subset["ports"] == [{"port": 80, "protocol": "TCP"}]


def test_daemonset_pod_on_a_lost_node_stays_instead_of_churning() -> None:
    cluster = make_cluster()
    ds = web()
    ds["metadata"]["name"] = "agent"
    del ds["spec"]["replicas"]
    cluster.store.create("DaemonSet", ds)
    settle(cluster)
    cluster.inject("node_not_ready", node="node-2")
    for _ in range(70):
        cluster.tick(5)
    before = {p["metadata"]["uid"] for p in cluster.store.list("Pod", "app")[0]}
    cluster.tick(5)
    assert {p["metadata"]["uid"] for p in cluster.store.list("Pod", "app")[0]} == before
    assert len(before) == 3
