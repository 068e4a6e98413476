"""`meta.k8s.io/v1` Table output, what `kubectl get` prints, with the columns a real server shows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from simcluster.store import ResourceType

Obj = dict[str, Any]
Column = tuple[str, str, Callable[[Obj], Any]]


def _g(obj: Any, *path: str, default: Any = None) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return default
        obj = obj.get(key)
    return default if obj is None else obj


def _pod_ready(pod: Obj) -> str:
    statuses = _g(pod, "status", "containerStatuses", default=[])
    total = len(_g(pod, "spec", "containers", default=[]))
    return f"{sum(1 for s in statuses if s.get('ready'))}/{total}"


def _pod_status(pod: Obj) -> str:
    if _g(pod, "metadata", "deletionTimestamp"):
        return "Terminating"
    for status in _g(pod, "status", "containerStatuses", default=[]):
        state = status.get("state") or {}
        for phase in ("waiting", "terminated"):
            reason = _g(state, phase, "reason")
            if reason:
                return str(reason)
    return str(_g(pod, "status", "phase", default="Pending"))


def _restarts(pod: Obj) -> int:
    return sum(int(s.get("restartCount", 0)) for s in _g(pod, "status", "containerStatuses", default=[]))


def _node_status(node: Obj) -> str:
    ready = next((c for c in _g(node, "status", "conditions", default=[]) if c.get("type") == "Ready"), None)
    text = "Ready" if ready and ready.get("status") == "True" else "NotReady" if ready else "Unknown"
    return text + (",SchedulingDisabled" if _g(node, "spec", "unschedulable") else "")


def _ports(svc: Obj) -> str:
    ports = _g(svc, "spec", "ports", default=[])
    return ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>"


def _hpa_ref(hpa: Obj) -> str:
    ref = _g(hpa, "spec", "scaleTargetRef", default={})
    return f"{ref.get('kind', '')}/{ref.get('name', '')}"


def _status(obj: Obj, *path: str) -> int:
    return int(_g(obj, "status", *path, default=0))


_COLUMNS: dict[str, list[Column]] = {
    "Pod": [
        ("Ready", "string", _pod_ready),
        ("Status", "string", _pod_status),
        ("Restarts", "integer", _restarts),
    ],
    "Deployment": [
        ("Ready", "string", lambda o: f"{_status(o, 'readyReplicas')}/{_g(o, 'spec', 'replicas', default=1)}"),
        ("Up-to-date", "integer", lambda o: _status(o, "updatedReplicas")),
        ("Available", "integer", lambda o: _status(o, "availableReplicas")),
    ],
    "ReplicaSet": [
        ("Desired", "integer", lambda o: _g(o, "spec", "replicas", default=1)),
        ("Current", "integer", lambda o: _status(o, "replicas")),
        ("Ready", "integer", lambda o: _status(o, "readyReplicas")),
    ],
    "StatefulSet": [
        ("Ready", "string", lambda o: f"{_status(o, 'readyReplicas')}/{_g(o, 'spec', 'replicas', default=1)}"),
    ],
    "DaemonSet": [
        ("Desired", "integer", lambda o: _status(o, "desiredNumberScheduled")),
        ("Current", "integer", lambda o: _status(o, "currentNumberScheduled")),
        ("Ready", "integer", lambda o: _status(o, "numberReady")),
        ("Available", "integer", lambda o: _status(o, "numberAvailable")),
    ],
    "Service": [
        ("Type", "string", lambda o: _g(o, "spec", "type", default="ClusterIP")),
        ("Cluster-IP", "string", lambda o: _g(o, "spec", "clusterIP", default="<none>")),
        ("Ports", "string", _ports),
    ],
    "Node": [("Status", "string", _node_status)],
    "Namespace": [("Status", "string", lambda o: _g(o, "status", "phase", default="Active"))],
    "ConfigMap": [("Data", "integer", lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {}))],
    "Secret": [
        ("Type", "string", lambda o: o.get("type", "Opaque")),
        ("Data", "integer", lambda o: len(o.get("data") or {})),
    ],
    "Job": [("Succeeded", "integer", lambda o: _status(o, "succeeded"))],
    "CronJob": [
        ("Schedule", "string", lambda o: _g(o, "spec", "schedule", default="")),
        ("Suspend", "boolean", lambda o: bool(_g(o, "spec", "suspend", default=False))),
        ("Active", "integer", lambda o: len(_g(o, "status", "active", default=[]))),
    ],
    "HorizontalPodAutoscaler": [
        ("Reference", "string", _hpa_ref),
        ("MinPods", "integer", lambda o: _g(o, "spec", "minReplicas", default=1)),
        ("MaxPods", "integer", lambda o: _g(o, "spec", "maxReplicas", default=0)),
        ("Replicas", "integer", lambda o: _status(o, "currentReplicas")),
    ],
    "PodDisruptionBudget": [
        ("Min Available", "string", lambda o: str(_g(o, "spec", "minAvailable", default="N/A"))),
        ("Max Unavailable", "string", lambda o: str(_g(o, "spec", "maxUnavailable", default="N/A"))),
        ("Allowed Disruptions", "integer", lambda o: _status(o, "disruptionsAllowed")),
    ],
}


def _age(obj: Obj, now: datetime) -> str:
    created = _g(obj, "metadata", "creationTimestamp")
    if not created:
        return "<unknown>"
    seconds = max(0, int((now - datetime.fromisoformat(str(created).replace("Z", "+00:00"))).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * 2:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def to_table(rt: ResourceType, items: list[Obj], resource_version: int, now: datetime) -> Obj:
    """A Table of `items` with Name, the kind's columns and Age; rows carry the object's metadata."""
    columns = _COLUMNS.get(rt.kind, [])
    definitions = [{"name": "Name", "type": "string", "format": "name", "description": "", "priority": 0}]
    definitions += [{"name": n, "type": t, "format": "", "description": "", "priority": 0} for n, t, _ in columns]
    definitions.append({"name": "Age", "type": "string", "format": "", "description": "", "priority": 0})
    rows = [
        {
            "cells": [item["metadata"]["name"], *(fn(item) for _, _, fn in columns), _age(item, now)],
            "object": {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": item["metadata"],
            },
        }
        for item in items
    ]
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": str(resource_version)},
        "columnDefinitions": definitions,
        "rows": rows,
    }
