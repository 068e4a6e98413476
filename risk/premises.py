"""Probe what the incident's alerts claim: read each premise's subject once and record its state.

The judgement (does the cluster contradict the alert?) is `actions.premise.contradiction`; here
only the reading happens, one `get` per premise.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from actions.premise import AlertPremise, PremiseFacts, SubjectState
from actions.workloads import rollout_status
from risk.objects import meta
from risk.sources import ClusterReader

Obj = dict[str, Any]


def probe_premises(reader: ClusterReader, premises: tuple[AlertPremise, ...], *, now: datetime) -> PremiseFacts:
    """The state of every premise's subject, read at `now`."""
    items = []
    for premise in premises:
        obj = reader.try_get(premise.kind, premise.name, premise.namespace)
        items.append((premise, subject_state(premise.kind, obj)))
    return PremiseFacts(read_at=now, items=tuple(items))


def subject_state(kind: str, obj: Obj | None) -> SubjectState:
    """What an object's status says about the health an alert may claim is missing."""
    if obj is None:
        return SubjectState(exists=False, detail="not found")
    status = obj.get("status") or {}
    if kind == "Node":
        conditions = status.get("conditions") or []
        ready = next((c.get("status") == "True" for c in conditions if c.get("type") == "Ready"), None)
        return SubjectState(exists=True, ready=ready, detail=f"Ready={ready}")
    if kind == "Pod":
        return _pod_state(obj)
    obj.setdefault("kind", kind)
    rollout = rollout_status(kind, obj)
    desired = _desired(kind, obj)
    available = status.get("availableReplicas", status.get("numberAvailable"))
    # Nothing desired proves nothing: a workload scaled to zero is what some alerts are about.
    ready = None if desired == 0 else rollout.ok and (available is None or int(available) >= desired)
    return SubjectState(exists=True, ready=ready, rollout_complete=rollout.ok, detail=rollout.detail)


def _desired(kind: str, obj: Obj) -> int:
    if kind == "DaemonSet":
        return int((obj.get("status") or {}).get("desiredNumberScheduled") or 0)
    replicas = (obj.get("spec") or {}).get("replicas")
    return int(replicas if replicas is not None else 1)


def _pod_state(pod: Obj) -> SubjectState:
    status = pod.get("status") or {}
    phase = status.get("phase")
    conditions = status.get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    containers = status.get("containerStatuses") or []
    waiting = [str(c.get("name")) for c in containers if (c.get("state") or {}).get("waiting")]
    all_ready = bool(containers) and all(c.get("ready") for c in containers)
    healthy = phase == "Running" and ready and all_ready and not waiting and not meta(pod).get("deletionTimestamp")
    detail = f"phase {phase}, Ready={ready}" + (f", waiting: {', '.join(waiting)}" if waiting else "")
    return SubjectState(exists=True, ready=healthy, detail=detail)
