"""The CRDs and owner objects of the GitOps stand-ins, for estates, scenarios and tests."""

from __future__ import annotations

import json
from typing import Any

from simcluster.controllers.gitops import DESIRED, SELF_HEAL_SECONDS
from simcluster.store import ObjectStore

Obj = dict[str, Any]


def crd(kind: str, plural: str, group: str, version: str, *, short_names: tuple[str, ...] = ()) -> Obj:
    """A namespaced CustomResourceDefinition with a status subresource and an open schema."""
    return {
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "shortNames": list(short_names)},
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                    "subresources": {"status": {}},
                }
            ],
        },
    }


GITOPS_CRDS = (
    crd("Application", "applications", "argoproj.io", "v1alpha1", short_names=("app", "apps")),
    crd("Kustomization", "kustomizations", "kustomize.toolkit.fluxcd.io", "v1", short_names=("ks",)),
    crd("HelmRelease", "helmreleases", "helm.toolkit.fluxcd.io", "v2", short_names=("hr",)),
    crd("Rollout", "rollouts", "argoproj.io", "v1alpha1", short_names=("ro",)),
)
"""Argo CD Applications, Flux Kustomizations and HelmReleases, Argo Rollouts."""


def install_gitops_crds(store: ObjectStore) -> None:
    """Store the GitOps CRDs (those already there are left alone)."""
    for definition in GITOPS_CRDS:
        if store.try_get("CustomResourceDefinition", None, definition["metadata"]["name"]) is None:
            store.create("CustomResourceDefinition", definition)


def application(
    name: str, desired: list[Obj], *, namespace: str = "argocd", self_heal: bool = True, heal_seconds: float = 5
) -> Obj:
    """An Argo CD Application whose "Git" holds `desired`, automated with or without self-heal."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "annotations": {DESIRED: json.dumps(desired), SELF_HEAL_SECONDS: str(heal_seconds)},
        },
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://git.example/deploy.git", "path": name, "targetRevision": "main"},
            "syncPolicy": {"automated": {"selfHeal": self_heal, "prune": True}},
        },
    }


def kustomization(name: str, desired: list[Obj], *, namespace: str = "flux-system", interval: str = "30s") -> Obj:
    """A Flux Kustomization whose "Git" holds `desired`, reconciled every `interval`."""
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": namespace, "annotations": {DESIRED: json.dumps(desired)}},
        "spec": {
            "interval": interval,
            "path": f"./{name}",
            "prune": True,
            "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
        },
    }
