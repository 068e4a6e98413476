"""Settings for objects another controller manages: one policy per kind of owner."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from actions.owners import OwnerPolicies, OwnerPolicy

_DEFAULTS = OwnerPolicies()


class OwnersSettings(BaseModel):
    """What Scutum does with an object Argo CD, Flux, Helm, an operator or Argo Rollouts manages
    (`act`, `pause-then-act` or `escalate`; see docs/owners.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True, validate_default=True)

    argocd: OwnerPolicy = _DEFAULTS.argocd
    """Objects Argo CD tracks (label argocd.argoproj.io/instance or annotation argocd.argoproj.io/tracking-id)."""
    flux: OwnerPolicy = _DEFAULTS.flux
    """Objects a Flux Kustomization or HelmRelease applies (kustomize/helm.toolkit.fluxcd.io labels)."""
    helm: OwnerPolicy = _DEFAULTS.helm
    """Objects of a Helm release (app.kubernetes.io/managed-by: Helm, meta.helm.sh/release-name)."""
    operator: OwnerPolicy = _DEFAULTS.operator
    """Objects whose controller ownerReference is a custom resource (an operator reconciles them);
    `pause-then-act` escalates: there is nothing generic to pause."""
    argo_rollouts: OwnerPolicy = _DEFAULTS.argo_rollouts
    """Objects an Argo Rollout controls; `pause-then-act` escalates."""
    pause_seconds: float = Field(default=_DEFAULTS.pause_seconds, gt=0, le=7 * 24 * 3600.0)
    """A `pause-then-act` pause is lifted after this long at the latest (or on Undo)."""
    argocd_namespace: str = Field(default=_DEFAULTS.argocd_namespace, min_length=1, max_length=63)
    """Where Argo CD Applications live when the tracking metadata does not name a namespace."""

    watch_seconds: float = Field(default=600.0, gt=0, le=24 * 3600.0)
    """After a fix on a managed target verified, watch it this long for the owner reverting it
    (the outcome is then `reverted-by-owner`)."""

    def policies(self) -> OwnerPolicies:
        """These settings as the action layer's `OwnerPolicies`."""
        return OwnerPolicies(**self.model_dump(exclude={"watch_seconds"}))
