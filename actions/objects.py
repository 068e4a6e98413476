"""Reading plain Kubernetes JSON: owners, times, label selectors, pod storage.

The one objects module: small, pure accessors the actions, the probes, the cache and the
planner share (one time parser, one owner walk); no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

Obj = dict[str, Any]

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
DEPLOYMENT_REVISION = "deployment.kubernetes.io/revision"


def meta(obj: Mapping[str, Any]) -> Obj:
    """The object's metadata (empty when absent)."""
    value = obj.get("metadata")
    return value if isinstance(value, dict) else {}


def labels(obj: Mapping[str, Any]) -> dict[str, str]:
    """The object's labels."""
    return dict(meta(obj).get("labels") or {})


def controller_owner(obj: Mapping[str, Any]) -> Obj | None:
    """The ownerReference marked controller, if any."""
    for ref in meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 timestamp as an aware datetime, None when absent or malformed."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def created_at(obj: Mapping[str, Any]) -> datetime | None:
    """The object's creationTimestamp."""
    return parse_time(meta(obj).get("creationTimestamp"))


def _expression_holds(expr: Mapping[str, Any], target: Mapping[str, str]) -> bool:
    key, op, values = expr.get("key", ""), expr.get("operator", ""), set(expr.get("values") or [])
    present = key in target
    checks = {
        "In": present and target.get(key) in values,
        "NotIn": not (present and target.get(key) in values),
        "Exists": present,
        "DoesNotExist": not present,
    }
    return checks.get(op, False)


def selector_matches(selector: Mapping[str, Any] | None, target: Mapping[str, str]) -> bool:
    """A metav1.LabelSelector (matchLabels and matchExpressions) against a label set.

    An empty selector matches everything, as PodDisruptionBudgets in policy/v1 do; a null one nothing.
    """
    if selector is None:
        return False
    if any(target.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    return all(_expression_holds(e, target) for e in selector.get("matchExpressions") or [])


def pod_volumes(pod: Mapping[str, Any]) -> list[Obj]:
    """The pod's volumes."""
    return list((pod.get("spec") or {}).get("volumes") or [])


def has_empty_dir(pod: Mapping[str, Any]) -> bool:
    """The pod keeps emptyDir data that is lost when it goes."""
    return any("emptyDir" in v for v in pod_volumes(pod))


def has_local_storage(pod: Mapping[str, Any]) -> bool:
    """emptyDir or hostPath: data that does not follow the pod to another node."""
    return any("emptyDir" in v or "hostPath" in v for v in pod_volumes(pod))


def is_mirror_pod(pod: Mapping[str, Any]) -> bool:
    """A static pod's mirror: the kubelet owns it, eviction does nothing."""
    return MIRROR_ANNOTATION in (meta(pod).get("annotations") or {})


def is_finished(pod: Mapping[str, Any]) -> bool:
    """Succeeded or Failed pods hold no serving capacity."""
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def template_references_configmap(template: Mapping[str, Any], name: str) -> bool:
    """A pod template mounts or reads the ConfigMap `name`."""
    spec = template.get("spec") or {}
    for volume in spec.get("volumes") or []:
        if (volume.get("configMap") or {}).get("name") == name:
            return True
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        for source in container.get("envFrom") or []:
            if (source.get("configMapRef") or {}).get("name") == name:
                return True
        for env in container.get("env") or []:
            if ((env.get("valueFrom") or {}).get("configMapKeyRef") or {}).get("name") == name:
                return True
    return False
