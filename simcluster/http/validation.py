"""Validation of objects written through the API: enough to refuse obviously broken objects with 422.

A real API server validates every field; this checks what clients most often get wrong and
what the controllers rely on: names, pod templates with named containers that have images,
and workload selectors that match their template's labels.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from simcluster.errors import Invalid
from simcluster.selectors import LabelSelector

Obj = dict[str, Any]

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL_NAME_KINDS = frozenset({"Namespace", "Service"})


INT32_MAX = 2**31 - 1


def _fail(kind: str, name: str, causes: list[str]) -> Invalid:
    return Invalid(
        f'{kind} "{name}" is invalid: ' + ", ".join(causes),
        details={"name": name, "kind": kind, "causes": [{"reason": "FieldValueInvalid", "message": c} for c in causes]},
    )


def _check_containers(spec: Any, path: str, causes: list[str]) -> None:
    if not isinstance(spec, dict):
        causes.append(f"{path}: Required value")
        return
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        causes.append(f"{path}.containers: Required value")
        return
    seen: set[str] = set()
    for n, container in enumerate(containers):
        where = f"{path}.containers[{n}]"
        if not isinstance(container, dict):
            causes.append(f"{where}: Invalid value: must be an object")
            continue
        name = container.get("name")
        if not isinstance(name, str) or not _DNS_LABEL.match(name):
            causes.append(f"{where}.name: Required value: a lowercase RFC 1123 label")
        elif name in seen:
            causes.append(f'{where}.name: Duplicate value: "{name}"')
        else:
            seen.add(name)
        if not container.get("image"):
            causes.append(f"{where}.image: Required value")


def _check_template(spec: Obj, path: str, causes: list[str], *, selector_required: bool = True) -> None:
    template = spec.get("template")
    if not isinstance(template, dict):
        causes.append(f"{path}.template: Required value")
        return
    _check_containers(template.get("spec"), f"{path}.template.spec", causes)
    selector = spec.get("selector")
    if selector is None:
        if selector_required:
            causes.append(f"{path}.selector: Required value")
        return
    if not isinstance(selector, dict) or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        causes.append(f"{path}.selector: Invalid value: empty selector is invalid for a workload")
        return
    labels = (template.get("metadata") or {}).get("labels") or {}
    if not LabelSelector.from_match_labels(selector).matches(labels):
        causes.append(f"{path}.template.metadata.labels: Invalid value: `selector` does not match template `labels`")


def _check_replicas(spec: Obj, path: str, causes: list[str]) -> None:
    replicas = spec.get("replicas")
    if replicas is not None and (not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0):
        causes.append(f"{path}.replicas: Invalid value: {replicas!r}: must be greater than or equal to 0")
    elif isinstance(replicas, int) and replicas > INT32_MAX:  # an int32 in the API: a real server cannot hold more
        causes.append(f"{path}.replicas: Invalid value: {replicas}: must be no more than {INT32_MAX}")


def _workload(obj: Obj, causes: list[str]) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        causes.append("spec: Required value")
        return
    _check_replicas(spec, "spec", causes)
    _check_template(spec, "spec", causes)


def _pod(obj: Obj, causes: list[str]) -> None:
    _check_containers(obj.get("spec"), "spec", causes)


def _job(obj: Obj, causes: list[str]) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        causes.append("spec: Required value")
        return
    _check_template(spec, "spec", causes, selector_required=False)


def _cronjob(obj: Obj, causes: list[str]) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict) or not spec.get("schedule"):
        causes.append("spec.schedule: Required value")
        return
    job_spec = (spec.get("jobTemplate") or {}).get("spec")
    if not isinstance(job_spec, dict):
        causes.append("spec.jobTemplate.spec: Required value")
        return
    _check_template(job_spec, "spec.jobTemplate.spec", causes, selector_required=False)


def _hpa(obj: Obj, causes: list[str]) -> None:
    spec = obj.get("spec") or {}
    if not (spec.get("scaleTargetRef") or {}).get("name"):
        causes.append("spec.scaleTargetRef.name: Required value")
    max_replicas = spec.get("maxReplicas")
    if not isinstance(max_replicas, int) or max_replicas < 1:
        causes.append("spec.maxReplicas: Required value: must be at least 1")
    elif isinstance(spec.get("minReplicas"), int) and spec["minReplicas"] > max_replicas:
        causes.append("spec.minReplicas: Invalid value: must be less than or equal to maxReplicas")


def _service(obj: Obj, causes: list[str]) -> None:
    for n, port in enumerate((obj.get("spec") or {}).get("ports") or []):
        number = port.get("port") if isinstance(port, dict) else None
        if not isinstance(number, int) or not 0 < number < 65536:
            causes.append(f"spec.ports[{n}].port: Invalid value: must be between 1 and 65535")


_BY_KIND: dict[str, Callable[[Obj, list[str]], None]] = {
    "Deployment": _workload,
    "ReplicaSet": _workload,
    "StatefulSet": _workload,
    "DaemonSet": _workload,
    "Pod": _pod,
    "Job": _job,
    "CronJob": _cronjob,
    "HorizontalPodAutoscaler": _hpa,
    "Service": _service,
}


def validate(kind: str, obj: Obj) -> None:
    """Raise `Invalid` (422) listing every problem found in an object about to be written."""
    raw_meta = obj.get("metadata")
    meta: Obj = raw_meta if isinstance(raw_meta, dict) else {}
    name = str(meta.get("name") or meta.get("generateName") or "")
    causes: list[str] = []
    if meta.get("name"):
        pattern = _DNS_LABEL if kind in _LABEL_NAME_KINDS else _DNS_SUBDOMAIN
        if not pattern.match(str(meta["name"])):
            causes.append(f'metadata.name: Invalid value: "{meta["name"]}": must be a lowercase RFC 1123 name')
    check = _BY_KIND.get(kind)
    if check is not None:
        check(obj, causes)
    if causes:
        raise _fail(kind, name, causes)
