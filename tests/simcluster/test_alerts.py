"""Alert rules: mixin names and labels, pending periods, Alertmanager v2 shape, resolution."""

from __future__ import annotations

from simcluster.alerts import RULES, fingerprint
from simcluster.clock import ManualClock
from simcluster.cluster import SimCluster


def crashing_cluster(pending: float | None = 60.0) -> SimCluster:
    cluster = SimCluster(ManualClock(), seed=5, alert_pending_seconds=pending)
    cluster.load_estate("sample")
    cluster.settle()
    cluster.inject("bad_env", namespace="shop", deployment="cart")
    return cluster


def test_crashloop_alert_has_mixin_labels_and_alertmanager_shape() -> None:
    cluster = crashing_cluster()
    for _ in range(6):
        cluster.tick(30)
    alert = next(a for a in cluster.firing_alerts() if a["labels"]["alertname"] == "KubePodCrashLooping")
    labels = alert["labels"]
    assert labels["namespace"] == "shop" and labels["container"] == "cart" and labels["pod"].startswith("cart-")
    assert labels["job"] == "kube-state-metrics" and labels["severity"] == "warning"
    assert set(alert["annotations"]) == {"summary", "description", "runbook_url"}
    assert labels["pod"] in alert["annotations"]["description"]
    assert alert["status"] == {"state": "active", "silencedBy": [], "inhibitedBy": []}
    assert alert["fingerprint"] == fingerprint(labels)
    assert alert["startsAt"] < alert["updatedAt"] < alert["endsAt"]
    assert alert["receivers"] and alert["generatorURL"]


def test_alert_waits_for_the_pending_period_and_starts_when_it_fires() -> None:
    cluster = crashing_cluster(pending=120.0)
    cluster.tick(10)
    assert not cluster.firing_alerts()
    for _ in range(11):
        cluster.tick(10)
    assert not any(a["labels"]["alertname"] == "KubePodCrashLooping" for a in cluster.firing_alerts())
    for _ in range(3):
        cluster.tick(10)
    alert = next(a for a in cluster.firing_alerts() if a["labels"]["alertname"] == "KubePodCrashLooping")
    assert alert["startsAt"] == "2026-01-01T00:02:15Z"  # began at 00:00:15, pending 120s


def test_real_mixin_for_periods_apply_when_pending_is_not_capped() -> None:
    cluster = crashing_cluster(pending=None)
    for _ in range(20):
        cluster.tick(30)  # 10 minutes: short of the mixin's 15m
    assert not any(a["labels"]["alertname"] == "KubePodCrashLooping" for a in cluster.firing_alerts())
    for _ in range(12):
        cluster.tick(30)
    assert any(a["labels"]["alertname"] == "KubePodCrashLooping" for a in cluster.firing_alerts())


def test_resolved_alert_disappears() -> None:
    cluster = SimCluster(seed=5)
    cluster.load_estate("sample")
    cluster.settle()
    cluster.inject("node_disk_pressure", node="node-1")
    for _ in range(4):
        cluster.tick(30)
    assert [a["labels"] for a in cluster.firing_alerts()] == [
        {
            "alertname": "KubeNodePressure",
            "node": "node-1",
            "condition": "DiskPressure",
            "job": "kube-state-metrics",
            "severity": "info",
        }
    ]
    cluster.store.mutate("Node", None, "node-1", lambda o: o["metadata"]["annotations"].clear())
    cluster.tick(30)
    assert cluster.firing_alerts() == []


def test_rule_table_keeps_the_mixin_names_and_for_periods() -> None:
    table = {rule.name: rule for rule in RULES}
    assert table["KubePodCrashLooping"].for_seconds == 900
    assert table["KubeContainerWaiting"].for_seconds == 3600
    assert table["KubeNodePressure"].severity == "info"
    assert {"KubeDeploymentReplicasMismatch", "KubeDeploymentRolloutStuck", "KubeHpaMaxedOut", "KubeJobFailed"} <= set(
        table
    )
