"""The faults added for the scenario suite change the cluster the way their summaries say."""

from __future__ import annotations

from typing import Any

import pytest

from simcluster.cluster import SimCluster


def _sample() -> SimCluster:
    cluster = SimCluster(seed=0)
    cluster.load_estate("sample")
    cluster.settle()
    return cluster


def _alert_names(cluster: SimCluster) -> set[str]:
    return {a["labels"]["alertname"] for a in cluster.firing_alerts()}


def _deployment(cluster: SimCluster, name: str) -> dict[str, Any]:
    return cluster.store.get("Deployment", "shop", name)


@pytest.mark.parametrize(
    ("fault", "alert"),
    [
        ("bad_command", "KubePodCrashLooping"),
        ("resources_unschedulable", "KubePodNotReady"),
        ("bad_node_selector", "KubePodNotReady"),
        ("bad_readiness_probe", "KubeDeploymentRolloutStuck"),
    ],
)
def test_in_place_template_faults_make_a_new_revision_that_alerts(fault: str, alert: str) -> None:
    cluster = _sample()
    revision = _deployment(cluster, "catalog")["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
    cluster.inject(fault, namespace="shop", deployment="catalog")
    for _ in range(150):
        cluster.tick(5)
    after = _deployment(cluster, "catalog")["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
    assert int(after) > int(revision)
    assert alert in _alert_names(cluster)


def test_rollout_restart_changes_only_the_restart_annotation_and_stays_healthy() -> None:
    cluster = _sample()
    before = _deployment(cluster, "cart")["spec"]["template"]["spec"]
    cluster.inject("rollout_restart", namespace="shop", deployment="cart")
    for _ in range(40):
        cluster.tick(5)
    after = _deployment(cluster, "cart")
    assert after["spec"]["template"]["spec"] == before
    assert "kubectl.kubernetes.io/restartedAt" in after["spec"]["template"]["metadata"]["annotations"]
    assert _alert_names(cluster) == set()


def test_recreated_deployment_keeps_no_revision_from_before() -> None:
    cluster = _sample()
    old_uid = _deployment(cluster, "catalog")["metadata"]["uid"]
    cluster.inject("deployment_recreated_broken", namespace="shop", deployment="catalog")
    for _ in range(30):
        cluster.tick(5)
    recreated = _deployment(cluster, "catalog")
    assert recreated["metadata"]["uid"] != old_uid
    replica_sets, _ = cluster.store.list("ReplicaSet", "shop", label_selector="app=catalog")
    assert [
        rs["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":doesnotexist") for rs in replica_sets
    ] == [True]
    assert "KubeDeploymentReplicasMismatch" in _alert_names(cluster)
