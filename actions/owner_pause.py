"""The `pause-then-act` step: stop a GitOps owner from re-applying the target for the incident.

For Argo CD the Application's `spec.syncPolicy.automated` is removed; for Flux the Kustomization
or HelmRelease gets `spec.suspend: true`. What was there before, when the pause ends and which
execution paused it are written onto the owner object itself as annotations, so the pause is
visible to whoever looks at the Application (`kubectl describe`) and is restored from the
cluster's own record, by `resume` (on Undo) or by `resume_expired` once the stated time passed.
Every write is dry-run first, like an action's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from actions.base import ActionContext, Permission
from actions.guarded_write import Write, dry_run_then_write
from actions.kube import KubeError, PatchType
from actions.objects import parse_time
from actions.owners import OwnerPolicy, managed_by, owner_location

Obj = dict[str, Any]

PAUSED_UNTIL = "scutum.dev/paused-until"
"""Annotation: when the pause ends at the latest (RFC 3339)."""
PAUSED_BY = "scutum.dev/paused-by"
"""Annotation: the execution that paused the owner."""
PAUSED_SPEC = "scutum.dev/paused-spec"
"""Annotation: the JSON of what the pause replaced (Argo CD's `automated`, Flux's `suspend`)."""

PAUSE_PERMISSIONS = (
    Permission("argoproj.io", "applications", ("get", "list", "patch")),
    Permission("kustomize.toolkit.fluxcd.io", "kustomizations", ("get", "list", "patch")),
    Permission("helm.toolkit.fluxcd.io", "helmreleases", ("get", "list", "patch")),
)
"""What the pause step needs: read the owner object, patch its sync policy or suspend flag."""

OWNER_KINDS = ("Application", "Kustomization", "HelmRelease")
"""The owner objects a pause can touch."""


@dataclass(frozen=True)
class PauseRecord:
    """One pause, as recorded in the execution's outcome and audited."""

    kind: str
    name: str
    namespace: str
    until: str
    previous: str
    """JSON of the replaced value."""
    changed: bool
    """False when the owner was already paused (by Scutum or by hand): nothing was written."""

    def as_json(self) -> dict[str, Any]:
        """The record for the outcome and the audit chain."""
        return {
            "kind": self.kind,
            "name": self.name,
            "namespace": self.namespace,
            "until": self.until,
            "previous": self.previous,
            "changed": self.changed,
        }


def _paused_value(kind: str, obj: Obj) -> tuple[bool, str]:
    """Whether the owner already does not re-apply, and the JSON of the value a pause replaces."""
    spec = obj.get("spec") or {}
    if kind == "Application":
        automated = (spec.get("syncPolicy") or {}).get("automated")
        return not isinstance(automated, dict), json.dumps(automated)
    return bool(spec.get("suspend")), json.dumps(bool(spec.get("suspend")))


def _pause_patch(kind: str, annotations: dict[str, str]) -> Obj:
    spec: Obj = {"syncPolicy": {"automated": None}} if kind == "Application" else {"suspend": True}
    return {"metadata": {"annotations": annotations}, "spec": spec}


def pause(ctx: ActionContext, target: Obj, *, execution_id: str) -> PauseRecord | None:
    """Pause the target's owner if the policy says `pause-then-act`; None when there is nothing to
    pause. Raises KubeError when the owner object cannot be read or patched (then do not act)."""
    policies = ctx.limits.owner_policies
    owner = managed_by(target)
    if owner is None or policies.for_owner(owner.kind) is not OwnerPolicy.PAUSE_THEN_ACT:
        return None
    where = owner_location(owner, policies)
    if where is None:
        return None
    kind, namespace, name = where
    until = (ctx.clock() + timedelta(seconds=policies.pause_seconds)).isoformat()
    state: dict[str, Any] = {}

    def plan() -> Write | None:
        obj = ctx.kube.get(kind, name, namespace)
        already, previous = _paused_value(kind, obj)
        state.update(previous=previous, already=already)
        if already:
            return None
        notes = {PAUSED_UNTIL: until, PAUSED_BY: execution_id, PAUSED_SPEC: previous}
        body = _pause_patch(kind, notes)
        return lambda dry: ctx.kube.patch(kind, name, body, namespace, patch_type=PatchType.MERGE, dry_run=dry)

    written = dry_run_then_write(plan)
    return PauseRecord(kind, name, namespace, until, str(state["previous"]), changed=written is not None)


def resume(ctx: ActionContext, kind: str, name: str, namespace: str) -> bool:
    """Restore an owner Scutum paused (from its annotations); False when it is not paused by Scutum."""

    def plan() -> Write | None:
        obj = ctx.kube.try_get(kind, name, namespace)
        notes = ((obj or {}).get("metadata") or {}).get("annotations") or {}
        if obj is None or PAUSED_SPEC not in notes:
            return None
        previous = json.loads(notes[PAUSED_SPEC])
        spec: Obj = {"syncPolicy": {"automated": previous}} if kind == "Application" else {"suspend": bool(previous)}
        body = {"metadata": {"annotations": {PAUSED_UNTIL: None, PAUSED_BY: None, PAUSED_SPEC: None}}, "spec": spec}
        return lambda dry: ctx.kube.patch(kind, name, body, namespace, patch_type=PatchType.MERGE, dry_run=dry)

    return dry_run_then_write(plan) is not None


def paused_by(owner_obj: Obj | None) -> str | None:
    """The execution that paused this owner object, if Scutum paused it."""
    notes = ((owner_obj or {}).get("metadata") or {}).get("annotations") or {}
    value = notes.get(PAUSED_BY)
    return str(value) if value else None


def expired(owner_obj: Obj, now: datetime) -> bool:
    """True when Scutum paused this owner and the stated time has passed."""
    notes = (owner_obj.get("metadata") or {}).get("annotations") or {}
    until = parse_time(notes.get(PAUSED_UNTIL))
    return PAUSED_SPEC in notes and until is not None and now >= until


def resume_expired(ctx: ActionContext, kinds: tuple[str, ...] = OWNER_KINDS) -> list[str]:
    """Resume every owner whose pause ran out; returns `kind namespace/name` of each resumed one.
    A kind whose CRD is not installed is skipped."""
    resumed: list[str] = []
    now = ctx.clock()
    for kind in kinds:
        try:
            owners = ctx.kube.list(kind)
        except KubeError:  # the CRD is not installed (404) or the read failed: try again next sweep
            continue
        for obj in owners:
            meta = obj.get("metadata") or {}
            if expired(obj, now) and resume(ctx, kind, str(meta.get("name")), str(meta.get("namespace"))):
                resumed.append(f"{kind} {meta.get('namespace')}/{meta.get('name')}")
    return resumed
