"""Defaulting a real API server does on write, and the pod status fields it derives.

Registered as an admission hook: it fills what the client left out, in place, before the
object is stored (a Deployment's rolling-update strategy, a port's protocol, a pod's QoS class).
Like the API server, it treats `null` as unset; a field of the wrong type is left alone, never
an exception (which would drop the client's connection).
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

_ROLLING_UPDATE: dict[str, str] = {"maxUnavailable": "25%", "maxSurge": "25%"}


def _dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[Obj]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _default(obj: Obj, key: str, value: Any) -> Any:
    """`obj[key]`, set to `value` first when missing or null."""
    if obj.get(key) is None:
        obj[key] = value
    return obj[key]


def _containers(spec: Obj) -> list[Obj]:
    return [*_dicts(spec.get("containers")), *_dicts(spec.get("initContainers"))]


def qos_class(pod: Obj) -> str:
    """Guaranteed, Burstable or BestEffort, by the rules the kubelet uses."""
    resources = [_dict(c.get("resources")) for c in _containers(_dict(pod.get("spec")))]
    if not any(_dict(r.get("requests")) or _dict(r.get("limits")) for r in resources):
        return "BestEffort"
    for r in resources:
        limits = _dict(r.get("limits"))
        requests = {**limits, **_dict(r.get("requests"))}  # requests default to limits
        for name in ("cpu", "memory"):
            if name not in limits or str(requests.get(name)) != str(limits[name]):
                return "Burstable"
    return "Guaranteed"


def _ports(ports: Any) -> None:
    for port in _dicts(ports):
        _default(port, "protocol", "TCP")


def _pod_spec(spec: Obj, *, restart_always: bool = True) -> None:
    for container in _containers(spec):
        _ports(container.get("ports"))
        pull = "Always" if str(container.get("image", "")).endswith(":latest") else "IfNotPresent"
        _default(container, "imagePullPolicy", pull)
    if restart_always:  # a Job's pods must say Never or OnFailure themselves
        _default(spec, "restartPolicy", "Always")
    _default(spec, "dnsPolicy", "ClusterFirst")
    _default(spec, "schedulerName", "default-scheduler")
    _default(spec, "terminationGracePeriodSeconds", 30)


def apply_defaults(kind: str, obj: Obj, old: Obj | None) -> None:
    """Fill the defaults of `kind` into `obj` (in place)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    template = _dict(spec.get("template")).get("spec")
    if isinstance(template, dict):
        _pod_spec(template, restart_always=kind != "Job")
    match kind:
        case "Deployment":
            _default(spec, "replicas", 1)
            _default(spec, "revisionHistoryLimit", 10)
            _default(spec, "progressDeadlineSeconds", 600)
            strategy = _default(spec, "strategy", {})
            if isinstance(strategy, dict) and _default(strategy, "type", "RollingUpdate") == "RollingUpdate":
                _default(strategy, "rollingUpdate", dict(_ROLLING_UPDATE))
        case "StatefulSet":
            _default(spec, "podManagementPolicy", "OrderedReady")
            _default(spec, "updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        case "Service":
            _default(spec, "type", "ClusterIP")
            _default(spec, "sessionAffinity", "None")
            _ports(spec.get("ports"))
        case "Pod":
            _pod_spec(spec, restart_always=not _owned_by_job(obj))
            status = _default(obj, "status", {})
            if isinstance(status, dict):
                status["qosClass"] = qos_class(obj)
        case _:
            pass


def _owned_by_job(obj: Obj) -> bool:
    refs = _dict(obj.get("metadata")).get("ownerReferences")
    return any(ref.get("kind") == "Job" for ref in _dicts(refs))
