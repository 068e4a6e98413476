"""Target resolution: object labels over exporter labels, and ownerReferences through the cluster."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agent.planning.targets import (
    ObjectRef,
    TargetResolver,
    UnresolvedTarget,
    container_from_labels,
    target_from_labels,
)
from tests.agent.fixtures.cluster import NOW, FakeCluster, container, deployment, meta, pod, replicaset

KSM = {"job": "kube-state-metrics", "pod": "kube-state-metrics-6f7c9d-abcde", "container": "kube-state-metrics"}


def test_deployment_label_wins_over_the_exporter_pod_label() -> None:
    labels = {**KSM, "alertname": "KubeDeploymentReplicasMismatch", "namespace": "prod", "deployment": "web"}
    assert target_from_labels(labels) == ObjectRef("Deployment", "web", "prod")


def test_node_alert_with_exporter_pod_and_namespace_targets_the_node() -> None:
    labels = {**KSM, "alertname": "KubeNodeNotReady", "namespace": "monitoring", "node": "node-2"}
    assert target_from_labels(labels) == ObjectRef("Node", "node-2")


def test_exported_namespace_names_the_target_when_honor_labels_is_off() -> None:
    labels = {**KSM, "namespace": "monitoring", "exported_namespace": "prod", "horizontalpodautoscaler": "web"}
    assert target_from_labels(labels) == ObjectRef("HorizontalPodAutoscaler", "web", "prod")


def test_exported_pod_names_the_target_pod() -> None:
    labels = {**KSM, "namespace": "monitoring", "exported_namespace": "prod", "exported_pod": "web-1"}
    assert target_from_labels(labels) == ObjectRef("Pod", "web-1", "prod")
    assert container_from_labels({**labels, "exported_container": "app"}) == "app"


def test_job_label_is_the_scrape_job_never_a_target() -> None:
    labels = {"job": "kube-state-metrics", "namespace": "prod", "job_name": "report-28790"}
    assert target_from_labels(labels) == ObjectRef("Job", "report-28790", "prod")
    assert target_from_labels({"job": "batch", "namespace": "prod"}) is None


def test_exporter_container_label_is_not_the_target_container() -> None:
    assert container_from_labels(KSM) is None
    assert container_from_labels({"job": "kube-state-metrics", "container": "app"}) == "app"


def test_forced_label_picks_that_object() -> None:
    labels = {"namespace": "prod", "pod": "web-1", "node": "node-1"}
    assert target_from_labels(labels, label="node") == ObjectRef("Node", "node-1")
    assert target_from_labels(labels, label="deployment") is None


def test_pod_resolves_through_replicaset_to_deployment() -> None:
    web = deployment("web")
    rs = replicaset(web, "7d9c8b6f5", revision=2, created=NOW - timedelta(hours=1))
    cluster = FakeCluster(web, rs, pod("web-7d9c8b6f5-x2k9p", rs))
    target = TargetResolver(cluster).resolve(
        ObjectRef("Pod", "web-7d9c8b6f5-x2k9p", "prod"), labels={"container": "app"}
    )
    assert (target.kind, target.name, target.namespace) == ("Deployment", "web", "prod")
    assert target.pod == "web-7d9c8b6f5-x2k9p" and target.container == "app"
    assert target.chain == ("Pod/prod/web-7d9c8b6f5-x2k9p", "ReplicaSet/prod/web-7d9c8b6f5", "Deployment/prod/web")


def test_pod_resolves_to_statefulset() -> None:
    db = deployment("db", kind="StatefulSet")
    target = TargetResolver(FakeCluster(db, pod("db-0", db))).resolve(ObjectRef("Pod", "db-0", "prod"))
    assert (target.kind, target.name) == ("StatefulSet", "db")


def test_job_resolves_to_its_cronjob() -> None:
    cron = {"kind": "CronJob", "metadata": meta("report", "prod", created=NOW), "spec": {}}
    job = {"kind": "Job", "metadata": meta("report-28790", "prod", created=NOW, owner=cron), "spec": {}}
    target = TargetResolver(FakeCluster(cron, job)).resolve(ObjectRef("Job", "report-28790", "prod"))
    assert (target.kind, target.name) == ("CronJob", "report")


def test_deleted_job_falls_back_to_the_cronjob_its_name_came_from() -> None:
    cron = {"kind": "CronJob", "metadata": meta("report", "prod", created=NOW), "spec": {}}
    target = TargetResolver(FakeCluster(cron)).resolve(ObjectRef("Job", "report-28790", "prod"))
    assert (target.kind, target.name) == ("CronJob", "report")


def test_deleted_pod_falls_back_to_its_replicaset_by_name() -> None:
    web = deployment("web")
    rs = replicaset(web, "7d9c8b6f5", revision=1, created=NOW)
    target = TargetResolver(FakeCluster(web, rs)).resolve(ObjectRef("Pod", "web-7d9c8b6f5-gone1", "prod"))
    assert (target.kind, target.name) == ("Deployment", "web")


def test_deleted_pod_with_no_owner_left_is_unresolved() -> None:
    with pytest.raises(UnresolvedTarget, match="no longer exists"):
        TargetResolver(FakeCluster()).resolve(ObjectRef("Pod", "ghost-abcde", "prod"))


def test_bare_pod_stays_a_pod_and_missing_service_resolves_with_no_object() -> None:
    cluster = FakeCluster(pod("debug", None))
    assert TargetResolver(cluster).resolve(ObjectRef("Pod", "debug", "prod")).kind == "Pod"
    service = TargetResolver(cluster).resolve(ObjectRef("Service", "web", "prod"))
    assert service.kind == "Service" and not service.exists


def test_multi_container_workload_needs_the_container_label() -> None:
    web = deployment("web", containers=[container("app"), container("sidecar")])
    resolver = TargetResolver(FakeCluster(web))
    assert resolver.resolve(ObjectRef("Deployment", "web", "prod")).container is None
    assert (
        resolver.resolve(ObjectRef("Deployment", "web", "prod"), labels={"container": "sidecar"}).container == "sidecar"
    )


def test_hpa_resolves_to_the_workload_it_scales() -> None:
    web = deployment("web")
    hpa = {
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta("web-hpa", "prod", created=NOW),
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 2, "maxReplicas": 5},
    }
    resolver = TargetResolver(FakeCluster(web, hpa))
    target = resolver.through_hpa(resolver.resolve(ObjectRef("HorizontalPodAutoscaler", "web-hpa", "prod")))
    assert (target.kind, target.name) == ("Deployment", "web") and target.hpa is hpa
