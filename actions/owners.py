"""Who manages an object besides Scutum, read from its metadata alone, and what the operator
wants done about it.

Argo CD and Flux re-apply objects from Git, Helm records its own release history, an operator
reconciles what it owns through a controller ownerReference, and Argo Rollouts replaces a
Deployment's ReplicaSets. A change Scutum makes to such an object may be undone by its owner,
so each kind of owner has a policy (`OwnerPolicies`): act anyway, pause the owner then act,
or escalate. This module is pure: the probes call `managed_by` on the object they read and the
shared preconditions call `owner_precondition` on the facts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

ARGOCD_INSTANCE = "argocd.argoproj.io/instance"
"""The label Argo CD's default (label) tracking sets: the Application's name."""
ARGOCD_TRACKING_ID = "argocd.argoproj.io/tracking-id"
"""The annotation Argo CD's annotation tracking sets: `<app>:<group>/<kind>:<namespace>/<name>`."""
FLUX_KUSTOMIZATION = "kustomize.toolkit.fluxcd.io"
"""Prefix of the labels Flux's kustomize-controller sets (`/name`, `/namespace`)."""
FLUX_HELMRELEASE = "helm.toolkit.fluxcd.io"
"""Prefix of the labels Flux's helm-controller sets (`/name`, `/namespace`)."""
HELM_MANAGED_BY = "app.kubernetes.io/managed-by"
"""The label Helm charts set to `Helm`."""
HELM_RELEASE_NAME = "meta.helm.sh/release-name"
"""The annotation Helm 3 sets on what it installs."""
HELM_RELEASE_NAMESPACE = "meta.helm.sh/release-namespace"
"""The annotation naming the release's namespace."""
ROLLOUTS_GROUP = "argoproj.io"
"""The API group of Argo Rollouts' Rollout (and of Argo CD's Application)."""

BUILTIN_GROUPS = frozenset(
    {
        "",
        "apps",
        "batch",
        "autoscaling",
        "policy",
        "networking.k8s.io",
        "discovery.k8s.io",
        "coordination.k8s.io",
        "rbac.authorization.k8s.io",
        "storage.k8s.io",
        "apiextensions.k8s.io",
        "admissionregistration.k8s.io",
        "scheduling.k8s.io",
        "node.k8s.io",
        "certificates.k8s.io",
        "events.k8s.io",
    }
)
"""API groups of Kubernetes itself: a controller owner in one of them is a built-in controller."""


class OwnerKind(StrEnum):
    """The kinds of owner whose reconciliation can undo a change."""

    ARGOCD = "argocd"
    FLUX = "flux"
    HELM = "helm"
    OPERATOR = "operator"
    ARGO_ROLLOUTS = "argo_rollouts"


class OwnerPolicy(StrEnum):
    """What the operator wants done with an object that kind of owner manages."""

    ACT = "act"
    """Act anyway; the decision records that the owner may revert the change."""
    PAUSE_THEN_ACT = "pause-then-act"
    """Pause the owner's automated reconciliation for the incident first (Argo CD, Flux)."""
    ESCALATE = "escalate"
    """Do not act: escalate with the change to make at the owner's source instead."""


GITOPS = frozenset({OwnerKind.ARGOCD, OwnerKind.FLUX})
"""Owners that re-apply from Git: the ones `pause-then-act` can pause."""


@dataclass(frozen=True)
class ManagedBy:
    """The owner of one object, as its metadata names it."""

    kind: OwnerKind
    name: str
    """The Application, Kustomization/HelmRelease, Helm release, or owning custom resource."""
    namespace: str | None = None
    """Where that owner object lives, when the metadata says (Flux, Helm, the object's own for operators)."""
    source: str = ""
    """What in the metadata told (a label, an annotation, an ownerReference)."""
    resource_kind: str = ""
    """The owner object's kind: Application, Kustomization, HelmRelease, Rollout, the custom kind."""
    api_version: str = ""
    """The owner object's apiVersion, when known (operators and Rollouts)."""

    def describe(self) -> str:
        """A short phrase naming the owner, for reasons and messages."""
        label = {
            OwnerKind.ARGOCD: "Argo CD Application",
            OwnerKind.FLUX: f"Flux {self.resource_kind or 'object'}",
            OwnerKind.HELM: "Helm release",
            OwnerKind.OPERATOR: f"operator-owned {self.resource_kind or 'custom resource'}",
            OwnerKind.ARGO_ROLLOUTS: "Argo Rollout",
        }[self.kind]
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{label} {where}"


@dataclass(frozen=True)
class OwnerPolicies:
    """The operator's policy per kind of owner. Defaults: GitOps and operators escalate, Helm acts."""

    argocd: OwnerPolicy = OwnerPolicy.ESCALATE
    flux: OwnerPolicy = OwnerPolicy.ESCALATE
    helm: OwnerPolicy = OwnerPolicy.ACT
    operator: OwnerPolicy = OwnerPolicy.ESCALATE
    argo_rollouts: OwnerPolicy = OwnerPolicy.ESCALATE
    pause_seconds: float = 3600.0
    """How long a `pause-then-act` pause lasts at most before the owner's sync is restored."""
    argocd_namespace: str = "argocd"
    """Where Argo CD Applications live when the tracking metadata does not say."""

    def for_owner(self, kind: OwnerKind) -> OwnerPolicy:
        """The policy for that kind of owner (`pause-then-act` only means something for GitOps:
        for any other owner it escalates, since there is nothing Scutum can pause)."""
        policy: OwnerPolicy = getattr(self, kind.value)
        if policy is OwnerPolicy.PAUSE_THEN_ACT and kind not in GITOPS:
            return OwnerPolicy.ESCALATE
        return policy


def owner_location(owner: ManagedBy, policies: OwnerPolicies) -> tuple[str, str, str] | None:
    """(kind, namespace, name) of the owner object a pause patches, or None when none can be paused."""
    if owner.kind is OwnerKind.ARGOCD:
        return "Application", owner.namespace or policies.argocd_namespace, owner.name
    if owner.kind is OwnerKind.FLUX and owner.namespace:
        return owner.resource_kind or "Kustomization", owner.namespace, owner.name
    return None


def _group(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def _controller(meta: Mapping[str, Any]) -> Mapping[str, Any] | None:
    refs = meta.get("ownerReferences") or []
    return next((r for r in refs if isinstance(r, Mapping) and r.get("controller")), None)


def _by_reference(meta: Mapping[str, Any]) -> ManagedBy | None:
    ref = _controller(meta)
    if ref is None:
        return None
    api_version, kind = str(ref.get("apiVersion", "")), str(ref.get("kind", ""))
    group = _group(api_version)
    if group in BUILTIN_GROUPS:
        return None
    owner = OwnerKind.ARGO_ROLLOUTS if group == ROLLOUTS_GROUP and kind == "Rollout" else OwnerKind.OPERATOR
    namespace = meta.get("namespace")
    return ManagedBy(
        owner,
        str(ref.get("name", "")),
        str(namespace) if namespace else None,
        source=f"controller ownerReference {kind}.{group}",
        resource_kind=kind,
        api_version=api_version,
    )


def _by_argocd(labels: Mapping[str, str], annotations: Mapping[str, str]) -> ManagedBy | None:
    tracking = annotations.get(ARGOCD_TRACKING_ID)
    if tracking:
        app = tracking.split(":", 1)[0]
        app_ns, _, app_name = app.rpartition("_")  # apps in any namespace: `<namespace>_<name>`
        return ManagedBy(
            OwnerKind.ARGOCD,
            app_name,
            app_ns or None,
            source=f"annotation {ARGOCD_TRACKING_ID}",
            resource_kind="Application",
        )
    instance = labels.get(ARGOCD_INSTANCE)
    if instance:
        return ManagedBy(OwnerKind.ARGOCD, instance, source=f"label {ARGOCD_INSTANCE}", resource_kind="Application")
    return None


def _by_flux(labels: Mapping[str, str]) -> ManagedBy | None:
    for prefix, kind in ((FLUX_HELMRELEASE, "HelmRelease"), (FLUX_KUSTOMIZATION, "Kustomization")):
        name = labels.get(f"{prefix}/name")
        if name:
            namespace = labels.get(f"{prefix}/namespace")
            return ManagedBy(OwnerKind.FLUX, name, namespace, source=f"label {prefix}/name", resource_kind=kind)
    return None


def _by_helm(labels: Mapping[str, str], annotations: Mapping[str, str]) -> ManagedBy | None:
    release = annotations.get(HELM_RELEASE_NAME)
    if release:
        namespace = annotations.get(HELM_RELEASE_NAMESPACE)
        return ManagedBy(OwnerKind.HELM, release, namespace, source=f"annotation {HELM_RELEASE_NAME}")
    if labels.get(HELM_MANAGED_BY) == "Helm":
        name = labels.get("app.kubernetes.io/instance") or labels.get("release") or ""
        return ManagedBy(OwnerKind.HELM, name, source=f"label {HELM_MANAGED_BY}=Helm")
    return None


def managed_by(obj: Mapping[str, Any] | None) -> ManagedBy | None:
    """Who reconciles `obj` besides Scutum, or None when nothing in its metadata says.

    The closest reconciler wins: a controller owner outside the built-in groups (an operator or
    a Rollout) rewrites the object itself, so it comes first; then Argo CD and Flux, which may
    have rendered a Helm chart (its labels stay), then Helm alone."""
    if not obj:
        return None
    meta = obj.get("metadata") or {}
    labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    annotations = {str(k): str(v) for k, v in (meta.get("annotations") or {}).items()}
    return _by_reference(meta) or _by_argocd(labels, annotations) or _by_flux(labels) or _by_helm(labels, annotations)
