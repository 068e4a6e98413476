"""Controller history of a workload: ReplicaSets for Deployments, ControllerRevisions otherwise.

A revision "was serving" from its creation until the next revision's creation, so the revision
serving at a moment is the newest one created strictly before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from actions.base import WorkloadKind
from actions.kube import Kube
from actions.selectors import selector_query
from actions.workloads import normalised_template, template_of

Obj = dict[str, Any]
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"


@dataclass(frozen=True)
class Revision:
    """One entry of a workload's history."""

    number: int
    created: datetime
    name: str
    template: Obj


def parse_time(text: str) -> datetime:
    """An RFC 3339 timestamp as the API server writes it ('...Z')."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _owned_by(obj: Obj, uid: str) -> bool:
    return any(ref.get("uid") == uid for ref in (obj.get("metadata") or {}).get("ownerReferences") or [])


def _clean(template: Obj) -> Obj:
    result = normalised_template(template)
    result.pop("$patch", None)
    return result


def history(kube: Kube, kind: WorkloadKind, workload: Obj) -> list[Revision]:
    """The workload's revisions still held by the cluster, oldest first."""
    meta = workload["metadata"]
    uid, namespace = meta.get("uid", ""), meta["namespace"]
    selected = selector_query((workload.get("spec") or {}).get("selector"))  # the owner's, not the namespace
    found: list[Revision] = []
    if kind == WorkloadKind.DEPLOYMENT:
        for rs in kube.list("ReplicaSet", namespace, label_selector=selected):
            if not _owned_by(rs, uid):
                continue
            number = int((rs["metadata"].get("annotations") or {}).get(REVISION_ANNOTATION) or 0)
            created = parse_time(rs["metadata"]["creationTimestamp"])
            found.append(Revision(number, created, rs["metadata"]["name"], _clean(template_of(rs))))
    else:
        for cr in kube.list("ControllerRevision", namespace, label_selector=selected):
            if not _owned_by(cr, uid):
                continue
            created = parse_time(cr["metadata"]["creationTimestamp"])
            found.append(
                Revision(int(cr.get("revision") or 0), created, cr["metadata"]["name"], _clean(template_of(cr)))
            )
    return sorted(found, key=lambda r: (r.created, r.number))


def serving_before(revisions: list[Revision], before: datetime) -> Revision | None:
    """The newest revision created strictly before `before`: the one serving when the incident began."""
    earlier = [r for r in revisions if r.created < before]
    return earlier[-1] if earlier else None


def matching(revisions: list[Revision], template: Obj) -> Revision | None:
    """The newest revision whose template is this one."""
    wanted = _clean(template)
    same = [r for r in revisions if r.template == wanted]
    return max(same, key=lambda r: r.number) if same else None
