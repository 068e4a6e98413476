"""Who manages an object, from its metadata, and the policy each kind of owner gets."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actions.owners import ManagedBy, OwnerKind, OwnerPolicies, OwnerPolicy, managed_by

Obj = dict[str, Any]


def _obj(
    *, labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None, refs: list[Obj] | None = None
) -> Obj:
    meta: Obj = {"name": "web", "namespace": "shop", "labels": labels or {}, "annotations": annotations or {}}
    if refs is not None:
        meta["ownerReferences"] = refs
    return {"kind": "Deployment", "metadata": meta}


def test_argocd_label_tracking_names_the_application() -> None:
    owner = managed_by(_obj(labels={"argocd.argoproj.io/instance": "shop-web"}))
    assert owner == ManagedBy(
        OwnerKind.ARGOCD, "shop-web", source="label argocd.argoproj.io/instance", resource_kind="Application"
    )


def test_argocd_annotation_tracking_takes_the_app_before_the_colon() -> None:
    owner = managed_by(_obj(annotations={"argocd.argoproj.io/tracking-id": "shop-web:apps/Deployment:shop/web"}))
    assert owner is not None and (owner.kind, owner.name, owner.namespace) == (OwnerKind.ARGOCD, "shop-web", None)


def test_argocd_apps_in_any_namespace_carry_their_namespace() -> None:
    owner = managed_by(_obj(annotations={"argocd.argoproj.io/tracking-id": "team-a_web:apps/Deployment:shop/web"}))
    assert owner is not None and (owner.name, owner.namespace) == ("web", "team-a")


def test_flux_kustomization_and_helmrelease_labels() -> None:
    kustomized = managed_by(
        _obj(
            labels={"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}
        )
    )
    assert kustomized == ManagedBy(
        OwnerKind.FLUX,
        "apps",
        "flux-system",
        source="label kustomize.toolkit.fluxcd.io/name",
        resource_kind="Kustomization",
    )
    released = managed_by(
        _obj(
            labels={
                "helm.toolkit.fluxcd.io/name": "web",
                "helm.toolkit.fluxcd.io/namespace": "shop",
                "app.kubernetes.io/managed-by": "Helm",
            }
        )
    )
    assert released is not None and (released.kind, released.resource_kind) == (OwnerKind.FLUX, "HelmRelease")


def test_helm_by_annotation_or_managed_by_label() -> None:
    annotated = managed_by(
        _obj(annotations={"meta.helm.sh/release-name": "web", "meta.helm.sh/release-namespace": "shop"})
    )
    assert annotated is not None and (annotated.kind, annotated.name, annotated.namespace) == (
        OwnerKind.HELM,
        "web",
        "shop",
    )
    labelled = managed_by(_obj(labels={"app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/instance": "web"}))
    assert labelled is not None and (labelled.kind, labelled.name) == (OwnerKind.HELM, "web")
    assert managed_by(_obj(labels={"app.kubernetes.io/managed-by": "kustomize"})) is None


def test_argocd_rendering_a_helm_chart_is_argocd() -> None:
    owner = managed_by(_obj(labels={"argocd.argoproj.io/instance": "web", "app.kubernetes.io/managed-by": "Helm"}))
    assert owner is not None and owner.kind is OwnerKind.ARGOCD


def test_controller_reference_to_a_custom_resource_is_an_operator() -> None:
    ref = {
        "apiVersion": "postgres-operator.crunchydata.com/v1beta1",
        "kind": "PostgresCluster",
        "name": "db",
        "controller": True,
    }
    owner = managed_by(_obj(refs=[ref], labels={"argocd.argoproj.io/instance": "db"}))
    assert owner is not None
    assert (owner.kind, owner.name, owner.resource_kind) == (OwnerKind.OPERATOR, "db", "PostgresCluster")
    assert owner.api_version == "postgres-operator.crunchydata.com/v1beta1"


def test_rollout_reference_is_argo_rollouts_and_builtin_controllers_are_nobody() -> None:
    rollout = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "web", "controller": True}
    owner = managed_by(_obj(refs=[rollout]))
    assert owner is not None and owner.kind is OwnerKind.ARGO_ROLLOUTS
    replicaset = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "controller": True}
    assert managed_by(_obj(refs=[replicaset])) is None
    not_controller = {"apiVersion": "example.com/v1", "kind": "Thing", "name": "x"}
    assert managed_by(_obj(refs=[not_controller])) is None


def test_nothing_in_the_metadata_means_no_owner() -> None:
    assert managed_by(_obj()) is None
    assert managed_by(None) is None
    assert managed_by({}) is None


def test_default_policies_escalate_gitops_and_operators_and_let_helm_act() -> None:
    policies = OwnerPolicies()
    assert policies.for_owner(OwnerKind.ARGOCD) is OwnerPolicy.ESCALATE
    assert policies.for_owner(OwnerKind.FLUX) is OwnerPolicy.ESCALATE
    assert policies.for_owner(OwnerKind.OPERATOR) is OwnerPolicy.ESCALATE
    assert policies.for_owner(OwnerKind.ARGO_ROLLOUTS) is OwnerPolicy.ESCALATE
    assert policies.for_owner(OwnerKind.HELM) is OwnerPolicy.ACT


@pytest.mark.parametrize("kind", [OwnerKind.HELM, OwnerKind.OPERATOR, OwnerKind.ARGO_ROLLOUTS])
def test_pause_then_act_escalates_where_there_is_nothing_to_pause(kind: OwnerKind) -> None:
    overrides: dict[str, Any] = {kind.value: OwnerPolicy.PAUSE_THEN_ACT}
    policies = OwnerPolicies(**overrides)
    assert policies.for_owner(kind) is OwnerPolicy.ESCALATE


_labels = st.dictionaries(
    st.sampled_from(
        [
            "argocd.argoproj.io/instance",
            "kustomize.toolkit.fluxcd.io/name",
            "helm.toolkit.fluxcd.io/name",
            "app.kubernetes.io/managed-by",
            "app",
        ]
    ),
    st.sampled_from(["Helm", "web", "x"]),
)


@given(_labels)
def test_an_owner_is_named_only_from_a_recognised_label(labels: dict[str, str]) -> None:
    owner = managed_by(_obj(labels=labels))
    recognised = {k for k in labels if k != "app" and (k != "app.kubernetes.io/managed-by" or labels[k] == "Helm")}
    assert (owner is None) == (not recognised)
    if owner is not None:
        assert owner.name in set(labels.values()) | {""}
