"""Reading and judging the three workload controllers: templates, rollout status, consumers."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from actions.base import NamespacedParams, Precondition, Verification, WorkloadKind
from actions.facts import WorkloadFacts
from actions.kube import Kube

Obj = dict[str, Any]

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
"""The annotation `kubectl rollout restart` sets on the pod template."""
RESTART_TOKEN = "scutum.dev/restart-token"  # noqa: S105 - an annotation key, not a secret
"""Scutum's own template annotation naming the restart that last rolled the workload."""
POD_TEMPLATE_HASH = "pod-template-hash"
"""The label a Deployment adds to its ReplicaSets' templates; never part of the desired template."""


def template_of(obj: Obj) -> Obj:
    """A deep copy of a controller's pod template (ReplicaSet, workload or ControllerRevision)."""
    spec = obj.get("spec") or (obj.get("data") or {}).get("spec") or {}
    return copy.deepcopy(spec.get("template") or {})


def normalised_template(template: Obj) -> Obj:
    """The template without the controller-added pod-template-hash label, for comparison and reuse."""
    result = copy.deepcopy(template)
    labels = (result.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(POD_TEMPLATE_HASH, None)
    return result


def _int(status: Obj, key: str) -> int:
    return int(status.get(key) or 0)


def rollout_status(kind: str, obj: Obj) -> Verification:
    """Whether a workload's rollout is complete: observed, updated and ready as desired."""
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    generation = int(meta.get("generation") or 0)
    if _int(status, "observedGeneration") < generation:
        return Verification(ok=False, settled=False, detail="the controller has not observed the change yet")
    if kind == WorkloadKind.DAEMONSET:
        desired = _int(status, "desiredNumberScheduled")
        updated, ready = _int(status, "updatedNumberScheduled"), _int(status, "numberReady")
    else:
        desired = int(spec.get("replicas", 1) or 0)
        updated, ready = _int(status, "updatedReplicas"), _int(status, "readyReplicas")
    total = _int(status, "replicas") if kind != WorkloadKind.DAEMONSET else _int(status, "currentNumberScheduled")
    detail = f"{updated}/{desired} updated, {ready}/{desired} ready"
    if updated >= desired and ready >= desired and total <= desired:
        return Verification(ok=True, settled=True, detail=f"rollout complete: {detail}")
    return Verification(ok=False, settled=False, detail=f"rollout in progress: {detail}")


def verify_rollout(kube: Kube, kind: str, name: str, namespace: str) -> Verification:
    """Read the workload and judge its rollout; a missing workload is a settled failure."""
    obj = kube.try_get(kind, name, namespace)
    if obj is None:
        return Verification(ok=False, settled=True, detail=f"{kind} {namespace}/{name} does not exist")
    return rollout_status(kind, obj)


def restart_patch(token: str, restarted_at: str) -> Obj:
    """The merge patch that rolls a workload's pods, recording which restart did it."""
    annotations = {RESTARTED_AT: restarted_at, RESTART_TOKEN: token}
    return {"spec": {"template": {"metadata": {"annotations": annotations}}}}


def template_annotation(obj: Obj, key: str) -> str | None:
    """One annotation of the workload's pod template, if set."""
    annotations = ((obj.get("spec") or {}).get("template") or {}).get("metadata", {}).get("annotations") or {}
    value = annotations.get(key)
    return str(value) if value is not None else None


def _pod_spec_configmaps(pod_spec: Obj) -> Iterator[str]:
    for volume in pod_spec.get("volumes") or []:
        if volume.get("configMap"):
            yield str(volume["configMap"].get("name", ""))
        for source in (volume.get("projected") or {}).get("sources") or []:
            if source.get("configMap"):
                yield str(source["configMap"].get("name", ""))
    for container in [*(pod_spec.get("containers") or []), *(pod_spec.get("initContainers") or [])]:
        for env_from in container.get("envFrom") or []:
            if env_from.get("configMapRef"):
                yield str(env_from["configMapRef"].get("name", ""))
        for env in container.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("configMapKeyRef")
            if ref:
                yield str(ref.get("name", ""))


def consumes_configmap(workload: Obj, configmap: str) -> bool:
    """Whether the workload's pods read the ConfigMap: volumes, projected sources, envFrom or env."""
    pod_spec = template_of(workload).get("spec") or {}
    return configmap in set(_pod_spec_configmaps(pod_spec))


def consumers(kube: Kube, namespace: str, configmap: str) -> list[tuple[WorkloadKind, Obj]]:
    """Every workload in the namespace whose pods consume the ConfigMap, in a stable order."""
    found: list[tuple[WorkloadKind, Obj]] = []
    for kind in WorkloadKind:
        for obj in kube.list(kind.value, namespace):
            if consumes_configmap(obj, configmap):
                found.append((kind, obj))
    return sorted(found, key=lambda item: (item[0].value, item[1]["metadata"]["name"]))


def container_names(workload: Obj) -> list[str]:
    """The names of the workload's regular containers."""
    pod_spec = template_of(workload).get("spec") or {}
    return [str(c.get("name")) for c in pod_spec.get("containers") or []]


class WorkloadParams(NamespacedParams):
    """Params of an action aimed at one Deployment, StatefulSet or DaemonSet."""

    kind: WorkloadKind
    """The workload's kind: Deployment, StatefulSet or DaemonSet."""


def template_takes_effect(workload: WorkloadFacts | None) -> Precondition:
    """A new pod template can reach every pod: not so on an OrderedReady StatefulSet whose pod is
    not ready (the controller waits for it forever; only replacing that pod, as the rollback
    does, lets the rollout go on)."""
    if workload is None or not workload.ordered_rolling_update or workload.ready_replicas >= workload.desired_replicas:
        return Precondition("takes_effect", True, "the rollout can reach every pod")
    detail = (
        f"StatefulSet {workload.name} rolls OrderedReady and {workload.desired_replicas - workload.ready_replicas} "
        "pod(s) are not ready: a new template would not reach them"
    )
    return Precondition("takes_effect", False, detail)
