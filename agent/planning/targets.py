"""Target resolution, shared by every planner.

An alert names what its metric names, which is not always the object to act on: a pod-level
alert names a pod whose Deployment is the thing to roll back, and on kube-state-metrics alerts
the `pod`, `container`, `job`, `service` and `namespace` labels may name the metrics exporter
instead of the target. So the agent reads the object labels the rule groups by
(`deployment`, `node`, `horizontalpodautoscaler`, `job_name`, ...), prefers `exported_*`
labels when Prometheus renamed a clash, and walks ownerReferences through the cluster itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from actions.kube import RESOURCES
from risk.sources import ClusterReader

__all__ = ["ClusterReader", "ObjectRef", "ResolvedTarget", "TargetResolver", "UnresolvedTarget"]

Obj = dict[str, Any]

OBJECT_LABELS: tuple[tuple[str, str], ...] = (
    ("deployment", "Deployment"),
    ("statefulset", "StatefulSet"),
    ("daemonset", "DaemonSet"),
    ("cronjob", "CronJob"),
    ("job_name", "Job"),
    ("horizontalpodautoscaler", "HorizontalPodAutoscaler"),
    ("configmap", "ConfigMap"),
    ("service", "Service"),
    ("pod", "Pod"),
    ("node", "Node"),
)
"""Object labels in the order they win: the most specific object a rule groups by first."""

LABEL_KINDS: dict[str, str] = dict(OBJECT_LABELS)
"""Object label → the Kubernetes kind it names."""

CLUSTER_SCOPED_KINDS = frozenset({"Node", "Namespace"})

KNOWN_EXPORTERS: tuple[str, ...] = (
    "kube-state-metrics",
    "node-exporter",
    "prometheus-node-exporter",
    "kubelet",
    "cadvisor",
    "prometheus",
)
"""Scrape jobs whose own pod, container and service labels leak into the alerts they feed."""

EXPORTER_LABELS = frozenset({"pod", "container", "service"})
"""Labels Prometheus attaches from the scrape target, so they may name the exporter."""

WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet"})

_POD_HASH = re.compile(r"^(?P<base>.+)-[a-z0-9]{5}$")
_STATEFUL_ORDINAL = re.compile(r"^(?P<base>.+)-\d+$")
_ORPHAN_OWNERS: dict[str, tuple[tuple[str, re.Pattern[str]], ...]] = {
    "Pod": (("ReplicaSet", _POD_HASH), ("StatefulSet", _STATEFUL_ORDINAL)),
    "Job": (("CronJob", _STATEFUL_ORDINAL),),
}
"""When the alert's pod or Job is gone: owners whose names its name was built from."""


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """An object named by alert labels, before the cluster was asked about it."""

    kind: str
    name: str
    namespace: str | None = None

    def key(self) -> str:
        """A stable grouping key: kind/namespace/name (kind/name when cluster-scoped)."""
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"


def label_value(labels: Mapping[str, str], name: str) -> str | None:
    """A label's value, preferring `exported_<name>` (the target's, when Prometheus renamed a clash)."""
    value = labels.get(f"exported_{name}") or labels.get(name)
    return value or None


def _exporter_names(labels: Mapping[str, str]) -> tuple[str, ...]:
    job = labels.get("job")
    return (job, *KNOWN_EXPORTERS) if job else KNOWN_EXPORTERS


def names_exporter(labels: Mapping[str, str], label: str) -> bool:
    """Whether `label` (pod, container, service) names the metrics exporter rather than the target."""
    if label not in EXPORTER_LABELS or labels.get(f"exported_{label}"):
        return False
    value = labels.get(label)
    if not value:
        return False
    return any(value == name or value.startswith(f"{name}-") for name in _exporter_names(labels))


def alert_namespace(labels: Mapping[str, str]) -> str | None:
    """The target's namespace: `exported_namespace` when present (the exporter's own otherwise)."""
    return label_value(labels, "namespace")


def target_from_labels(labels: Mapping[str, str], *, label: str | None = None) -> ObjectRef | None:
    """The object an alert is about, from its labels alone; None when no object label names one.

    `label` forces which object label names the target (a runbook rule knows what its alert
    groups by); otherwise the most specific object label that does not name the exporter wins.
    """
    candidates = ((label, LABEL_KINDS[label]),) if label else OBJECT_LABELS
    for name, kind in candidates:
        value = label_value(labels, name)
        if not value or (label is None and names_exporter(labels, name)):
            continue
        namespace = None if kind in CLUSTER_SCOPED_KINDS else alert_namespace(labels)
        if kind not in CLUSTER_SCOPED_KINDS and namespace is None:
            continue
        return ObjectRef(kind, value, namespace)
    return None


def container_from_labels(labels: Mapping[str, str]) -> str | None:
    """The container an alert names, unless the label names the exporter's own container."""
    if names_exporter(labels, "container"):
        return None
    return label_value(labels, "container")


@dataclass(frozen=True)
class ResolvedTarget:
    """The object to act on, found through the cluster, with the path that led there."""

    kind: str
    name: str
    namespace: str | None
    obj: Obj | None
    """The object as read; None when it does not exist (a deleted Service)."""
    pod: str | None = None
    """The pod the alert named, when it named one."""
    container: str | None = None
    """The container to act on (set_resources), when one is known."""
    chain: tuple[str, ...] = ()
    """Each object visited, alert's object first: Pod → ReplicaSet → Deployment."""
    labels: Mapping[str, str] = field(default_factory=dict)
    hpa: Obj | None = None
    """The HorizontalPodAutoscaler the alert named, when the target was reached through it."""

    @property
    def exists(self) -> bool:
        return self.obj is not None

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(self.kind, self.name, self.namespace)


class UnresolvedTarget(Exception):
    """No object to act on could be found; the planner escalates with this reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def controller_owner(obj: Obj) -> tuple[str, str] | None:
    """(kind, name) of the object's controller ownerReference, if it has one."""
    refs = obj.get("metadata", {}).get("ownerReferences") or []
    for ref in refs:
        if ref.get("controller"):
            return str(ref.get("kind")), str(ref.get("name"))
    if len(refs) == 1:
        return str(refs[0].get("kind")), str(refs[0].get("name"))
    return None


def pod_template_containers(obj: Obj) -> list[Obj]:
    """Containers of a workload's pod template (Deployment, StatefulSet, DaemonSet, Job, CronJob)."""
    spec = obj.get("spec", {})
    if obj.get("kind") == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    containers: list[Obj] = spec.get("template", {}).get("spec", {}).get("containers") or []
    if obj.get("kind") == "Pod":
        containers = spec.get("containers") or []
    return containers


class TargetResolver:
    """Walks from what an alert names to the object to act on, reading the cluster."""

    def __init__(self, reader: ClusterReader) -> None:
        self._reader = reader

    def resolve(self, ref: ObjectRef, *, labels: Mapping[str, str] | None = None) -> ResolvedTarget:
        """Follow controller ownerReferences up to the top-level owner (pod → ReplicaSet → Deployment).

        A missing pod falls back to its ReplicaSet or StatefulSet by name; a missing top-level
        object comes back with `obj=None` for the planner's guards to judge.
        """
        labels = labels or {}
        kind, name, namespace = ref.kind, ref.name, ref.namespace
        obj = self._reader.try_get(kind, name, namespace)
        chain = [ref.key()]
        pod = name if kind == "Pod" else None
        if obj is None and kind in _ORPHAN_OWNERS:
            kind, name, obj = self._orphan_owner(kind, name, namespace)
            chain.append(ObjectRef(kind, name, namespace).key())
        while obj is not None:
            owner = controller_owner(obj)
            if owner is None or owner[0] not in RESOURCES:  # a custom resource (an operator's): the
                break  # workload stays the target and its owner is a probed fact (actions.owners)
            parent = self._reader.try_get(owner[0], owner[1], namespace)
            if parent is None:
                break
            kind, name, obj = owner[0], owner[1], parent
            chain.append(ObjectRef(kind, name, namespace).key())
        container = self._container(obj, labels)
        return ResolvedTarget(
            kind, name, namespace, obj, pod=pod, container=container, chain=tuple(chain), labels=labels
        )

    def through_hpa(self, target: ResolvedTarget) -> ResolvedTarget:
        """From an HPA to the workload its scaleTargetRef names (the HPA kept in `hpa`)."""
        hpa = target.obj or {}
        ref = hpa.get("spec", {}).get("scaleTargetRef") or {}
        kind, name = str(ref.get("kind", "")), str(ref.get("name", ""))
        if not kind or not name:
            raise UnresolvedTarget(f"HPA {target.namespace}/{target.name} has no scaleTargetRef")
        obj = self._reader.try_get(kind, name, target.namespace)
        if obj is None:
            raise UnresolvedTarget(f"HPA {target.namespace}/{target.name} scales {kind} {name}, which does not exist")
        chain = (*target.chain, ObjectRef(kind, name, target.namespace).key())
        container = self._container(obj, target.labels)
        return ResolvedTarget(
            kind, name, target.namespace, obj, container=container, chain=chain, labels=target.labels, hpa=hpa
        )

    def through_service(self, target: ResolvedTarget) -> ResolvedTarget:
        """From a Service to the one Deployment or StatefulSet whose pod template its selector selects."""
        selector = (target.obj or {}).get("spec", {}).get("selector") or {}
        if not selector:
            raise UnresolvedTarget(f"Service {target.namespace}/{target.name} does not exist or has no selector")
        found = []
        for kind in ("Deployment", "StatefulSet"):
            for obj in self._reader.list(kind, target.namespace):
                labels = obj.get("spec", {}).get("template", {}).get("metadata", {}).get("labels") or {}
                if all(labels.get(k) == v for k, v in selector.items()):
                    found.append((kind, obj))
        if len(found) != 1:
            raise UnresolvedTarget(
                f"Service {target.namespace}/{target.name} selects {len(found)} workloads; the rule needs exactly one"
            )
        kind, obj = found[0]
        name = str(obj.get("metadata", {}).get("name"))
        chain = (*target.chain, ObjectRef(kind, name, target.namespace).key())
        container = self._container(obj, target.labels)
        return ResolvedTarget(kind, name, target.namespace, obj, container=container, chain=chain, labels=target.labels)

    def _orphan_owner(self, kind: str, name: str, namespace: str | None) -> tuple[str, str, Obj]:
        for owner_kind, pattern in _ORPHAN_OWNERS[kind]:
            match = pattern.match(name)
            if match:
                obj = self._reader.try_get(owner_kind, match["base"], namespace)
                if obj is not None:
                    return owner_kind, match["base"], obj
        raise UnresolvedTarget(f"{kind} {namespace}/{name} no longer exists and no owner matches its name")

    @staticmethod
    def _container(obj: Obj | None, labels: Mapping[str, str]) -> str | None:
        if obj is None:
            return container_from_labels(labels)
        names = [str(c.get("name")) for c in pod_template_containers(obj)]
        named = container_from_labels(labels)
        if named and named in names:
            return named
        return names[0] if len(names) == 1 else None
