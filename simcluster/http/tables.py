"""`meta.k8s.io/v1` Table output, what `kubectl get` prints, with the columns a real server shows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from simcluster.store import ResourceType

Obj = dict[str, Any]


class Column(NamedTuple):
    """One Table column: priority 1 columns are the ones `kubectl get -o wide` adds."""

    name: str
    type: str
    cell: Callable[[Obj], Any]
    priority: int = 0


WIDE = 1


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


def _external_ip(svc: Obj) -> str:
    ingress = _g(svc, "status", "loadBalancer", "ingress", default=[])
    found = [str(i.get("ip") or i.get("hostname")) for i in ingress if isinstance(i, dict)]
    return ",".join(found) or ("<pending>" if _g(svc, "spec", "type") == "LoadBalancer" else "<none>")


def _hpa_ref(hpa: Obj) -> str:
    ref = _g(hpa, "spec", "scaleTargetRef", default={})
    return f"{ref.get('kind', '')}/{ref.get('name', '')}"


def _containers(obj: Obj, field: str) -> str:
    containers = _g(obj, "spec", "template", "spec", "containers", default=[]) or _g(
        obj, "spec", "jobTemplate", "spec", "template", "spec", "containers", default=[]
    )
    return ",".join(str(c.get(field, "")) for c in containers) or "<none>"


def _selector(obj: Obj) -> str:
    selector = _g(obj, "spec", "selector", default={})
    labels = selector.get("matchLabels", selector) if isinstance(selector, dict) else {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()) if isinstance(v, str)) or "<none>"


def _node_roles(node: Obj) -> str:
    prefix = "node-role.kubernetes.io/"
    labels = _g(node, "metadata", "labels", default={})
    roles = sorted(k.removeprefix(prefix) for k in labels if k.startswith(prefix))
    return ",".join(roles) or "<none>"


def _node_address(node: Obj, kind: str) -> str:
    addresses = _g(node, "status", "addresses", default=[])
    return next((str(a.get("address")) for a in addresses if a.get("type") == kind), "<none>")


def _node_runtime(node: Obj) -> str:
    return str(_g(node, "status", "nodeInfo", "containerRuntimeVersion", default=""))


def _status(obj: Obj, *path: str) -> int:
    return int(_g(obj, "status", *path, default=0))


NAME = Column("Name", "string", lambda o: o["metadata"]["name"])
AGE = Column("Age", "string", lambda o: None)
"""Where Age goes when it is not right after the kind's ordinary columns (Nodes: before Version)."""


def _event_object(event: Obj) -> str:
    ref = event.get("involvedObject") or {}
    return f"{str(ref.get('kind', '')).lower()}/{ref.get('name', '')}"


_LAST_SEEN = Column("Last Seen", "string", lambda o: None)
_EVENT_COLUMNS = [
    _LAST_SEEN,
    Column("Type", "string", lambda o: o.get("type", "")),
    Column("Reason", "string", lambda o: o.get("reason", "")),
    Column("Object", "string", _event_object),
    Column("Subobject", "string", lambda o: _g(o, "involvedObject", "fieldPath", default=""), WIDE),
    Column("Source", "string", lambda o: _g(o, "source", "component", default=""), WIDE),
    Column("Message", "string", lambda o: o.get("message", "")),
    Column("Count", "integer", lambda o: int(o.get("count", 1)), WIDE),
    NAME._replace(priority=WIDE),
]
"""Events are listed as a real server lists them: no Name or Age up front."""

_COLUMNS: dict[str, list[Column]] = {
    "Pod": [
        Column("Ready", "string", _pod_ready),
        Column("Status", "string", _pod_status),
        Column("Restarts", "integer", _restarts),
        Column("IP", "string", lambda o: _g(o, "status", "podIP", default="<none>"), WIDE),
        Column("Node", "string", lambda o: _g(o, "spec", "nodeName", default="<none>"), WIDE),
        Column("Nominated Node", "string", lambda o: _g(o, "status", "nominatedNodeName", default="<none>"), WIDE),
        Column("Readiness Gates", "string", lambda o: "<none>", WIDE),
    ],
    "Deployment": [
        Column("Ready", "string", lambda o: f"{_status(o, 'readyReplicas')}/{_g(o, 'spec', 'replicas', default=1)}"),
        Column("Up-to-date", "integer", lambda o: _status(o, "updatedReplicas")),
        Column("Available", "integer", lambda o: _status(o, "availableReplicas")),
        Column("Containers", "string", lambda o: _containers(o, "name"), WIDE),
        Column("Images", "string", lambda o: _containers(o, "image"), WIDE),
        Column("Selector", "string", _selector, WIDE),
    ],
    "ReplicaSet": [
        Column("Desired", "integer", lambda o: _g(o, "spec", "replicas", default=1)),
        Column("Current", "integer", lambda o: _status(o, "replicas")),
        Column("Ready", "integer", lambda o: _status(o, "readyReplicas")),
        Column("Containers", "string", lambda o: _containers(o, "name"), WIDE),
        Column("Images", "string", lambda o: _containers(o, "image"), WIDE),
        Column("Selector", "string", _selector, WIDE),
    ],
    "StatefulSet": [
        Column("Ready", "string", lambda o: f"{_status(o, 'readyReplicas')}/{_g(o, 'spec', 'replicas', default=1)}"),
    ],
    "DaemonSet": [
        Column("Desired", "integer", lambda o: _status(o, "desiredNumberScheduled")),
        Column("Current", "integer", lambda o: _status(o, "currentNumberScheduled")),
        Column("Ready", "integer", lambda o: _status(o, "numberReady")),
        Column("Available", "integer", lambda o: _status(o, "numberAvailable")),
    ],
    "Service": [
        Column("Type", "string", lambda o: _g(o, "spec", "type", default="ClusterIP")),
        Column("Cluster-IP", "string", lambda o: _g(o, "spec", "clusterIP", default="<none>")),
        Column("External-IP", "string", _external_ip),
        Column("Port(s)", "string", _ports),
        Column("Selector", "string", _selector, WIDE),
    ],
    "Node": [
        Column("Status", "string", _node_status),
        Column("Roles", "string", _node_roles),
        AGE,
        Column("Version", "string", lambda o: _g(o, "status", "nodeInfo", "kubeletVersion", default="")),
        Column("Internal-IP", "string", lambda o: _node_address(o, "InternalIP"), WIDE),
        Column("External-IP", "string", lambda o: _node_address(o, "ExternalIP"), WIDE),
        Column("OS-Image", "string", lambda o: _g(o, "status", "nodeInfo", "osImage", default="<unknown>"), WIDE),
        Column("Kernel-Version", "string", lambda o: _g(o, "status", "nodeInfo", "kernelVersion", default=""), WIDE),
        Column(
            "Container-Runtime",
            "string",
            lambda o: _g(o, "status", "nodeInfo", "containerRuntimeVersion", default=""),
            WIDE,
        ),
    ],
    "Namespace": [Column("Status", "string", lambda o: _g(o, "status", "phase", default="Active"))],
    "ConfigMap": [Column("Data", "integer", lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {}))],
    "Secret": [
        Column("Type", "string", lambda o: o.get("type", "Opaque")),
        Column("Data", "integer", lambda o: len(o.get("data") or {})),
    ],
    "Job": [Column("Succeeded", "integer", lambda o: _status(o, "succeeded"))],
    "CronJob": [
        Column("Schedule", "string", lambda o: _g(o, "spec", "schedule", default="")),
        Column("Suspend", "boolean", lambda o: bool(_g(o, "spec", "suspend", default=False))),
        Column("Active", "integer", lambda o: len(_g(o, "status", "active", default=[]))),
    ],
    "HorizontalPodAutoscaler": [
        Column("Reference", "string", _hpa_ref),
        Column("MinPods", "integer", lambda o: _g(o, "spec", "minReplicas", default=1)),
        Column("MaxPods", "integer", lambda o: _g(o, "spec", "maxReplicas", default=0)),
        Column("Replicas", "integer", lambda o: _status(o, "currentReplicas")),
    ],
    "PodDisruptionBudget": [
        Column("Min Available", "string", lambda o: str(_g(o, "spec", "minAvailable", default="N/A"))),
        Column("Max Unavailable", "string", lambda o: str(_g(o, "spec", "maxUnavailable", default="N/A"))),
        Column("Allowed Disruptions", "integer", lambda o: _status(o, "disruptionsAllowed")),
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


def _with_age(columns: list[Column]) -> list[Column]:
    """The kind's columns with Name first and Age placed as a real server places them."""
    if any(c is AGE for c in columns):
        return [NAME, *columns]
    ordinary = [c for c in columns if c.priority == 0]
    return [NAME, *ordinary, AGE, *(c for c in columns if c.priority != 0)]


def _definition(column: Column) -> Obj:
    fmt = "name" if column.name == "Name" else ""
    return {"name": column.name, "type": column.type, "format": fmt, "description": "", "priority": column.priority}


def _cell(column: Column, item: Obj, now: datetime) -> Any:
    if column is AGE:
        return _age(item, now)
    if column is _LAST_SEEN:
        return _age({"metadata": {"creationTimestamp": item.get("lastTimestamp")}}, now)
    return column.cell(item)


def to_table(rt: ResourceType, items: list[Obj], resource_version: int, now: datetime) -> Obj:
    """A Table of `items` with the kind's columns (Name first and Age, unless the kind says otherwise);
    rows carry the object's metadata."""
    columns = _EVENT_COLUMNS if rt.kind == "Event" else _with_age(list(_COLUMNS.get(rt.kind, [])))
    definitions = [
        {
            "name": c.name,
            "type": c.type,
            "format": "name" if c.name == "Name" else "",
            "description": "",
            "priority": c.priority,
        }
        for c in columns
    ]
    rows = [
        {
            "cells": [_cell(c, item, now) for c in columns],
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
