"""The Argo CD and Flux stand-ins: drift is healed from "Git" unless sync is off or suspended."""

from __future__ import annotations

import json
from typing import Any

from simcluster.cluster import SimCluster
from simcluster.controllers.gitops import DESIRED, duration_seconds
from simcluster.gitops_objects import application, install_gitops_crds, kustomization

Obj = dict[str, Any]


def web(image: str) -> Obj:
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": image}]}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "app"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": template},
    }


def cluster_with(owner_ns: str) -> SimCluster:
    cluster = SimCluster(seed=1)
    cluster.load_estate("bare")
    for ns in ("app", owner_ns):
        cluster.store.create("Namespace", {"metadata": {"name": ns}})
    install_gitops_crds(cluster.store)
    return cluster


def image(cluster: SimCluster) -> str:
    deploy = cluster.store.get("Deployment", "app", "web")
    return str(deploy["spec"]["template"]["spec"]["containers"][0]["image"])


def set_image(cluster: SimCluster, value: str) -> None:
    def change(obj: Obj) -> None:
        obj["spec"]["template"]["spec"]["containers"][0]["image"] = value

    cluster.store.mutate("Deployment", "app", "web", change)


def test_argocd_creates_the_app_with_its_tracking_label_and_self_heals_a_drift() -> None:
    cluster = cluster_with("argocd")
    cluster.store.create("Application", application("shop-web", [web("web:v2")], heal_seconds=5))
    cluster.tick(1)
    deploy = cluster.store.get("Deployment", "app", "web")
    assert deploy["metadata"]["labels"]["argocd.argoproj.io/instance"] == "shop-web"
    set_image(cluster, "web:v1")
    cluster.tick(1)
    assert image(cluster) == "web:v1"
    assert cluster.store.get("Application", "argocd", "shop-web")["status"]["sync"]["status"] == "OutOfSync"
    for _ in range(6):
        cluster.tick(1)
    assert image(cluster) == "web:v2"
    assert cluster.store.get("Application", "argocd", "shop-web")["status"]["sync"]["status"] == "Synced"


def test_argocd_without_automated_sync_leaves_the_drift_out_of_sync() -> None:
    cluster = cluster_with("argocd")
    cluster.store.create("Application", application("shop-web", [web("web:v2")]))
    cluster.tick(1)

    def manual(obj: Obj) -> None:
        obj["spec"]["syncPolicy"].pop("automated")

    cluster.store.mutate("Application", "argocd", "shop-web", manual)
    set_image(cluster, "web:v1")
    for _ in range(30):
        cluster.tick(1)
    assert image(cluster) == "web:v1"
    assert cluster.store.get("Application", "argocd", "shop-web")["status"]["sync"]["status"] == "OutOfSync"


def test_flux_reapplies_after_its_interval_unless_suspended() -> None:
    cluster = cluster_with("flux-system")
    cluster.store.create("Kustomization", kustomization("apps", [web("web:v2")], interval="10s"))
    cluster.tick(1)
    labels = cluster.store.get("Deployment", "app", "web")["metadata"]["labels"]
    assert labels["kustomize.toolkit.fluxcd.io/name"] == "apps"
    assert labels["kustomize.toolkit.fluxcd.io/namespace"] == "flux-system"
    cluster.store.mutate("Kustomization", "flux-system", "apps", lambda o: o["spec"].update(suspend=True))
    set_image(cluster, "web:v1")
    for _ in range(15):
        cluster.tick(1)
    assert image(cluster) == "web:v1"
    cluster.store.mutate("Kustomization", "flux-system", "apps", lambda o: o["spec"].update(suspend=False))
    for _ in range(12):
        cluster.tick(1)
    assert image(cluster) == "web:v2"


def test_a_matching_live_object_is_not_rewritten() -> None:
    cluster = cluster_with("argocd")
    cluster.store.create("Application", application("shop-web", [web("web:v2")]))
    cluster.tick(1)
    generation = cluster.store.get("Deployment", "app", "web")["metadata"]["generation"]
    for _ in range(20):
        cluster.tick(1)
    assert cluster.store.get("Deployment", "app", "web")["metadata"]["generation"] == generation


def test_malformed_desired_state_and_durations_are_harmless() -> None:
    cluster = cluster_with("argocd")
    broken = application("shop-web", [])
    broken["metadata"]["annotations"][DESIRED] = "{not json"
    cluster.store.create("Application", broken)
    cluster.tick(1)
    assert cluster.store.try_get("Deployment", "app", "web") is None
    assert duration_seconds("1m30s", 5) == 90 and duration_seconds("soon", 7) == 7
    assert json.loads(application("x", [web("a")])["metadata"]["annotations"][DESIRED])[0]["kind"] == "Deployment"


def test_argocd_applies_a_new_commit_at_once_but_heals_drift_only_after_its_delay() -> None:
    cluster = cluster_with("argocd")
    cluster.store.create("Application", application("shop-web", [web("web:v1")], heal_seconds=60))
    cluster.tick(1)

    def commit(obj: Obj) -> None:
        obj["metadata"]["annotations"][DESIRED] = json.dumps([web("web:v2")])

    cluster.store.mutate("Application", "argocd", "shop-web", commit)
    cluster.tick(1)
    assert image(cluster) == "web:v2"
    set_image(cluster, "web:v1")
    for _ in range(30):
        cluster.tick(1)
    assert image(cluster) == "web:v1", "a drift stands until the self-heal delay passed"
    for _ in range(35):
        cluster.tick(1)
    assert image(cluster) == "web:v2"
