"""Controller history of a workload: ReplicaSets for Deployments, ControllerRevisions otherwise.

The one reader of revision history: the rollback action, the risk probes and the planner's
guards all build `Revision`s here, normalised and ordered the same way.

A revision "was serving" from its creation until the next revision's creation, so the revision
serving at a moment is the newest one created strictly before it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from actions.base import SnapshotSource, WorkloadKind
from actions.kube import Kube
from actions.objects import parse_time
from actions.selectors import selector_query
from actions.workloads import RESTART_TOKEN, RESTARTED_AT, normalised_template, rollout_status, template_of

Obj = dict[str, Any]
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
SNAPSHOT_STEPS = 20
"""How many older snapshots `known_good_snapshot` looks through for one observed healthy."""


@dataclass(frozen=True)
class Revision:
    """One entry of a workload's history."""

    number: int
    created: datetime
    name: str
    template: Obj

    @property
    def digest(self) -> str:
        """The template's digest with restart stamps ignored (see `template_digest`)."""
        return template_digest(self.template)


class Entry(Protocol):
    """What a judgement of history needs of a revision (a `Revision` or a probed fact)."""

    @property
    def number(self) -> int: ...
    @property
    def created(self) -> datetime: ...
    @property
    def digest(self) -> str: ...


def template_digest(template: Obj) -> str:
    """A short digest of a pod template without controller hashes and restart stamps: two
    templates with one digest differ by no more than a restart."""
    clean = _clean(template)
    annotations = (clean.get("metadata") or {}).get("annotations")
    if isinstance(annotations, dict):
        for key in (RESTARTED_AT, RESTART_TOKEN):
            annotations.pop(key, None)
        if not annotations:
            clean["metadata"].pop("annotations")
    for hashed in ("pod-template-hash", "controller-revision-hash"):
        ((clean.get("metadata") or {}).get("labels") or {}).pop(hashed, None)
    text = json.dumps(clean, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _owned_by(obj: Obj, uid: str) -> bool:
    return any(ref.get("uid") == uid for ref in (obj.get("metadata") or {}).get("ownerReferences") or [])


def _clean(template: Obj) -> Obj:
    result = normalised_template(template)
    result.pop("$patch", None)
    return result


def history_kind(kind: str) -> str:
    """The kind holding a workload's history: ReplicaSet for a Deployment, else ControllerRevision."""
    return "ReplicaSet" if kind == WorkloadKind.DEPLOYMENT else "ControllerRevision"


def _number(obj: Obj) -> int:
    raw = (
        obj.get("revision")
        if "revision" in obj
        else (obj["metadata"].get("annotations") or {}).get(REVISION_ANNOTATION)
    )
    try:
        return int(raw or 0)
    except (TypeError, ValueError):
        return 0


def revisions_of(owned: Iterable[Obj]) -> list[Revision]:
    """Revisions from the history objects a workload owns, oldest first (ties by number)."""
    found = [
        Revision(_number(o), created, o["metadata"]["name"], _clean(template_of(o)))
        for o in owned
        if (created := parse_time((o.get("metadata") or {}).get("creationTimestamp"))) is not None
    ]
    return sorted(found, key=lambda r: (r.created, r.number))


def history(kube: Kube, kind: WorkloadKind, workload: Obj) -> list[Revision]:
    """The workload's revisions still held by the cluster, oldest first."""
    meta = workload["metadata"]
    uid, namespace = meta.get("uid", ""), meta["namespace"]
    selected = selector_query((workload.get("spec") or {}).get("selector"))  # the owner's, not the namespace
    owned = kube.list(history_kind(kind), namespace, label_selector=selected)
    return revisions_of(o for o in owned if _owned_by(o, uid))


def serving_before(revisions: list[Revision], before: datetime) -> Revision | None:
    """The newest revision created strictly before `before`: the one serving when the incident began."""
    earlier = [r for r in revisions if r.created < before]
    return earlier[-1] if earlier else None


def matching(revisions: list[Revision], template: Obj) -> Revision | None:
    """The newest revision whose template is this one."""
    wanted = _clean(template)
    same = [r for r in revisions if r.template == wanted]
    return max(same, key=lambda r: r.number) if same else None


E = TypeVar("E", bound=Entry)


def serving_entry(entries: Sequence[E], before: datetime) -> E | None:
    """`serving_before` for anything shaped like a revision (a probed fact, say)."""
    earlier = [e for e in entries if e.created < before]
    return earlier[-1] if earlier else None


def observed_healthy(obj: Obj) -> bool:
    """A kept version of a workload whose recorded status shows its rollout complete and every
    replica ready: the agent saw it serve. ConfigMaps and Services have no health to observe."""
    kind = str(obj.get("kind", ""))
    if kind not in {k.value for k in WorkloadKind}:
        return True
    return rollout_status(kind, obj).ok


def _valid_from(obj: Obj) -> datetime | None:
    meta = obj.get("metadata") or {}
    stamps = [meta.get("creationTimestamp"), *(e.get("time") for e in meta.get("managedFields") or [])]
    times = [t for t in (parse_time(s) for s in stamps) if t is not None]
    return max(times) if times else None


def known_good_snapshot(
    snapshots: SnapshotSource, kind: str, namespace: str, name: str, cutoff: datetime
) -> Obj | None:
    """The newest kept version from before `cutoff` that the agent observed healthy (any version,
    for kinds without health), or None. The keeper's first copy of a workload may be a broken
    template; it does not count unless its recorded status shows it serving."""
    before = cutoff
    for _ in range(SNAPSHOT_STEPS):
        snapshot = snapshots.version_before(kind, namespace, name, before)
        if snapshot is None:
            return None
        snapshot.setdefault("kind", kind)
        if observed_healthy(snapshot):
            return snapshot
        older = _valid_from(snapshot)
        if older is None or older >= before:
            return None
        before = older
    return None
