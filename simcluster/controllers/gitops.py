"""Small stand-ins for Argo CD and Flux: re-apply a desired state ("what Git holds") to live objects.

Git is modelled by an annotation on the owner object, `sim.scutum.dev/desired`: a JSON list of
manifests. When the CRDs are installed (Applications in argoproj.io, Kustomizations in
kustomize.toolkit.fluxcd.io), each pass compares every desired object with the live one:

- Argo CD: a new desired manifest (a commit) is applied at once when `spec.syncPolicy.automated`
  is set; drift marks the Application OutOfSync, and with `automated.selfHeal` the desired
  manifest is applied again once the drift is `sim.scutum.dev/self-heal-seconds` old (default 5).
  Without `automated` nothing is applied.
- Flux: unless `spec.suspend` is true, a Kustomization applies its manifests again once the drift is
  `spec.interval` old (default 60 s), as its reconcile loop would.

What a real controller sets on what it applies (the tracking label) is set here too, so the
objects carry the metadata the agent reads to tell who owns them.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import Any

from simcluster.controllers.context import SIM_PREFIX, Context
from simcluster.defaults import apply_defaults
from simcluster.errors import StoreError

Obj = dict[str, Any]

DESIRED = f"{SIM_PREFIX}desired"
"""The annotation holding the owner's desired manifests (a JSON list)."""
SELF_HEAL_SECONDS = f"{SIM_PREFIX}self-heal-seconds"
"""How long Argo CD lets a drift stand before self-heal re-applies (default 5)."""
DEFAULT_SELF_HEAL = 5.0
DEFAULT_INTERVAL = 60.0
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|m|s)")


@dataclass(frozen=True)
class GitOpsKind:
    """One GitOps owner kind the controller serves."""

    kind: str
    group: str
    component: str


ARGOCD = GitOpsKind("Application", "argoproj.io", "argocd-application-controller")
FLUX = GitOpsKind("Kustomization", "kustomize.toolkit.fluxcd.io", "kustomize-controller")


def duration_seconds(text: Any, default: float) -> float:
    """A Go-style duration ("1m30s", "45s") in seconds, or `default`."""
    found = _DURATION.findall(str(text or ""))
    if not found:
        return default
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0}
    return sum(float(n) * scale[u] for n, u in found)


def desired_objects(owner: Obj) -> list[Obj]:
    """The manifests the owner's "Git" holds (empty when the annotation is missing or malformed)."""
    raw = (owner["metadata"].get("annotations") or {}).get(DESIRED)
    try:
        found = json.loads(raw) if raw else []
    except ValueError:
        return []
    return [o for o in found if isinstance(o, dict) and o.get("kind") and (o.get("metadata") or {}).get("name")]


def drifted(desired: Obj, live: Obj | None) -> bool:
    """True when the live object is missing or differs from the desired one in a field Git sets
    (every key of the desired `spec`, and `data` for ConfigMaps, once the server's defaults are in)."""
    if live is None:
        return True
    defaulted = copy.deepcopy(desired)
    apply_defaults(str(desired.get("kind", "")), defaulted, live)  # the server fills these in on apply
    for part in ("spec", "data"):
        want = defaulted.get(part)
        if isinstance(want, dict):
            have = live.get(part) or {}
            if any(have.get(k) != v for k, v in want.items()):
                return True
    return False


def _tracking(kind: GitOpsKind, owner: Obj) -> dict[str, str]:
    meta = owner["metadata"]
    if kind is ARGOCD:
        return {"argocd.argoproj.io/instance": str(meta["name"])}
    prefix = "kustomize.toolkit.fluxcd.io"
    return {f"{prefix}/name": str(meta["name"]), f"{prefix}/namespace": str(meta.get("namespace", ""))}


def _apply(ctx: Context, kind: GitOpsKind, owner: Obj, desired: Obj) -> None:
    """Write the desired manifest over the live object (or create it), with the tracking labels."""
    target_kind = str(desired["kind"])
    meta = desired["metadata"]
    labels = _tracking(kind, owner)
    live = ctx.store.try_get(target_kind, meta.get("namespace"), meta["name"])
    if live is None:
        body = copy.deepcopy(desired)
        body["metadata"]["labels"] = dict(body["metadata"].get("labels") or {}) | labels
        ctx.create(target_kind, body)
        return
    for part in ("spec", "data"):
        if isinstance(desired.get(part), dict):
            live.setdefault(part, {}).update(copy.deepcopy(desired[part]))
    live["metadata"]["labels"] = dict(live["metadata"].get("labels") or {}) | labels
    ctx.store.update(target_kind, live, check_version=False, manager=kind.component)


def _enabled(ctx: Context, kind: GitOpsKind) -> bool:
    served = ctx.store.types.get(kind.kind)
    return served is not None and served.group == kind.group


def _automated(kind: GitOpsKind, owner: Obj) -> bool:
    """The owner syncs by itself at all (Argo CD: `automated` set; Flux: not suspended)."""
    spec = owner.get("spec") or {}
    if kind is ARGOCD:
        return isinstance((spec.get("syncPolicy") or {}).get("automated"), dict)
    return not spec.get("suspend")


def _reapply_after(kind: GitOpsKind, owner: Obj) -> float | None:
    """Seconds a drift may stand before the owner re-applies, or None when it never does."""
    spec = owner.get("spec") or {}
    if kind is ARGOCD:
        automated = (spec.get("syncPolicy") or {}).get("automated")
        if not isinstance(automated, dict) or not automated.get("selfHeal"):
            return None
        raw = (owner["metadata"].get("annotations") or {}).get(SELF_HEAL_SECONDS)
        return duration_seconds(f"{raw}s" if raw else None, DEFAULT_SELF_HEAL)
    if spec.get("suspend"):
        return None
    return duration_seconds(spec.get("interval"), DEFAULT_INTERVAL)


def sync_owner(ctx: Context, kind: GitOpsKind, owner: Obj) -> None:
    """Compare one Application/Kustomization with the live objects: create what is missing when
    the owner syncs automatically, and heal drift once it is as old as the owner tolerates."""
    memo: dict[str, str] = ctx.memo.setdefault(f"gitops-drift/{kind.kind}", {})
    applied: dict[str, str] = ctx.memo.setdefault(f"gitops-applied/{kind.kind}", {})
    after = _reapply_after(kind, owner)
    out_of_sync = 0
    for desired in desired_objects(owner):
        meta = desired["metadata"]
        key = f"{owner['metadata'].get('namespace')}/{owner['metadata']['name']}/{desired['kind']}/{meta['name']}"
        try:
            live = ctx.store.try_get(str(desired["kind"]), meta.get("namespace"), meta["name"])
        except StoreError:
            continue
        if not drifted(desired, live):
            memo.pop(key, None)
            applied.setdefault(key, json.dumps(desired, sort_keys=True))
            continue
        since = memo.setdefault(key, ctx.stamp)
        revision = json.dumps(desired, sort_keys=True)
        new_in_git = applied.get(key) != revision  # a new commit: automated sync applies it at once
        if (new_in_git and _automated(kind, owner)) or (after is not None and ctx.later(since, after)):
            applied[key] = revision
            _apply(ctx, kind, owner, desired)
            memo.pop(key, None)
            ref = f"{desired['kind']}/{meta['name']}"
            ctx.event(
                owner, type_="Normal", reason="ResourceUpdated", message=f"re-applied {ref}", component=kind.component
            )
            continue
        out_of_sync += 1
    _write_status(ctx, kind, owner, out_of_sync)


def _write_status(ctx: Context, kind: GitOpsKind, owner: Obj, out_of_sync: int) -> None:
    status = copy.deepcopy(owner.get("status") or {})
    if kind is ARGOCD:
        status["sync"] = {"status": "OutOfSync" if out_of_sync else "Synced"}
    else:
        ready = {"type": "Ready", "status": "True" if not out_of_sync else "False"}
        ready["reason"] = "Suspended" if (owner.get("spec") or {}).get("suspend") else "ReconciliationSucceeded"
        status["conditions"] = [ready]
    ctx.set_status(kind.kind, owner, status)


def run(ctx: Context) -> None:
    """One pass of both stand-ins, for whichever of their CRDs are installed."""
    for kind in (ARGOCD, FLUX):
        if _enabled(ctx, kind):
            for owner in ctx.objects(kind.kind):
                sync_owner(ctx, kind, owner)
