"""kubectl against simcluster's custom resources: apply a CRD, then its resources by their real paths."""

from __future__ import annotations

import json

import pytest

from simcluster.harness import RunningSim
from tests.simcluster.test_kubectl import get_json, kubectl

pytestmark = pytest.mark.kubectl

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: applications.argoproj.io}
spec:
  group: argoproj.io
  scope: Namespaced
  names: {kind: Application, plural: applications, singular: application, shortNames: [app, apps]}
  versions:
  - name: v1alpha1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
    subresources: {status: {}}
"""

APP = """
apiVersion: v1
kind: Namespace
metadata: {name: argocd}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: shop-web, namespace: argocd}
spec:
  project: default
  source: {repoURL: "https://git.example/shop.git", path: web, targetRevision: main}
  destination: {server: "https://kubernetes.default.svc", namespace: shop}
  syncPolicy: {automated: {selfHeal: true, prune: true}}
"""


def test_apply_a_crd_then_a_custom_resource_and_get_it_back(bare_sim: RunningSim) -> None:
    assert "customresourcedefinition.apiextensions.k8s.io/applications.argoproj.io created" in kubectl(
        bare_sim, "apply", "-f", "-", stdin=CRD
    )
    created = kubectl(bare_sim, "apply", "-f", "-", stdin=APP)
    assert "application.argoproj.io/shop-web created" in created
    app = get_json(bare_sim, "applications.argoproj.io/shop-web", "-n", "argocd")
    assert app["spec"]["syncPolicy"]["automated"]["selfHeal"] is True
    assert app["metadata"]["uid"] and app["metadata"]["generation"] == 1
    listed = kubectl(bare_sim, "get", "app", "-n", "argocd")
    assert "shop-web" in listed and "NAME" in listed
    assert "unchanged" in kubectl(bare_sim, "apply", "-f", "-", stdin=APP).splitlines()[-1]


def test_merge_patch_and_status_subresource_of_a_custom_resource(bare_sim: RunningSim) -> None:
    kubectl(bare_sim, "apply", "-f", "-", stdin=CRD)
    kubectl(bare_sim, "apply", "-f", "-", stdin=APP)
    off = json.dumps({"spec": {"syncPolicy": {"automated": None}}})
    kubectl(bare_sim, "patch", "app", "shop-web", "-n", "argocd", "--type", "merge", "-p", off)
    app = get_json(bare_sim, "app/shop-web", "-n", "argocd")
    assert "automated" not in app["spec"]["syncPolicy"] and app["metadata"]["generation"] == 2
    status = json.dumps({"status": {"sync": {"status": "Synced"}}})
    kubectl(
        bare_sim, "patch", "app", "shop-web", "-n", "argocd", "--subresource", "status", "--type", "merge", "-p", status
    )
    app = get_json(bare_sim, "app/shop-web", "-n", "argocd")
    assert app["status"]["sync"]["status"] == "Synced" and app["metadata"]["generation"] == 2


def test_api_resources_lists_the_custom_kind_and_deleting_the_crd_stops_serving_it(bare_sim: RunningSim) -> None:
    kubectl(bare_sim, "apply", "-f", "-", stdin=CRD)
    resources = kubectl(bare_sim, "api-resources", "--api-group", "argoproj.io")
    assert "applications" in resources and "Application" in resources
    kubectl(bare_sim, "delete", "crd", "applications.argoproj.io")
    refused = kubectl(bare_sim, "get", "applications.argoproj.io", "-n", "argocd", check=False)
    assert "the server doesn't have a resource type" in refused or "NotFound" in refused or "not find" in refused
