"""Defaulting a real API server does on write, and the pod status fields it derives.

Registered as an admission hook: it fills what the client left out, in place, before the
object is stored (a Deployment's rolling-update strategy, a port's protocol, a pod's QoS class).
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

_ROLLING_UPDATE: dict[str, str] = {"maxUnavailable": "25%", "maxSurge": "25%"}


def qos_class(pod: Obj) -> str:
    """Guaranteed, Burstable or BestEffort, by the rules the kubelet uses."""
    containers = [*(pod.get("spec") or {}).get("containers", []), *(pod.get("spec") or {}).get("initContainers", [])]
    resources = [c.get("resources") or {} for c in containers]
    if not any((r.get("requests") or {}) or (r.get("limits") or {}) for r in resources):
        return "BestEffort"
    for r in resources:
        limits = r.get("limits") or {}
        requests = {**limits, **(r.get("requests") or {})}  # requests default to limits
        for name in ("cpu", "memory"):
            if name not in limits or str(requests.get(name)) != str(limits[name]):
                return "Burstable"
    return "Guaranteed"


def _ports(ports: list[Obj]) -> None:
    for port in ports:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")


def _pod_spec(spec: Obj, *, restart_always: bool = True) -> None:
    for container in [*spec.get("containers", []), *spec.get("initContainers", [])]:
        if isinstance(container, dict):
            _ports(container.get("ports") or [])
            container.setdefault(
                "imagePullPolicy", "Always" if str(container.get("image", "")).endswith(":latest") else "IfNotPresent"
            )
    if restart_always:  # a Job's pods must say Never or OnFailure themselves
        spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)


def apply_defaults(kind: str, obj: Obj, old: Obj | None) -> None:
    """Fill the defaults of `kind` into `obj` (in place)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    template = (spec.get("template") or {}).get("spec")
    if isinstance(template, dict):
        _pod_spec(template, restart_always=kind != "Job")
    match kind:
        case "Deployment":
            spec.setdefault("replicas", 1)
            spec.setdefault("revisionHistoryLimit", 10)
            spec.setdefault("progressDeadlineSeconds", 600)
            strategy = spec.setdefault("strategy", {})
            strategy.setdefault("type", "RollingUpdate")
            if strategy["type"] == "RollingUpdate":
                strategy.setdefault("rollingUpdate", dict(_ROLLING_UPDATE))
        case "StatefulSet":
            spec.setdefault("podManagementPolicy", "OrderedReady")
            spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        case "Service":
            spec.setdefault("type", "ClusterIP")
            spec.setdefault("sessionAffinity", "None")
            _ports(spec.get("ports") or [])
        case "Pod":
            _pod_spec(spec, restart_always=not _owned_by_job(obj))
            obj.setdefault("status", {})["qosClass"] = qos_class(obj)
        case _:
            pass


def _owned_by_job(obj: Obj) -> bool:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(ref.get("kind") == "Job" for ref in refs if isinstance(ref, dict))
