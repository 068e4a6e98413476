"""The REST resources the simulated API server serves: kind, group, version, plural, scope."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResourceType:
    """One REST resource: where it lives in the API and how it is addressed."""

    kind: str
    group: str
    version: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = (
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    )

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()


RESOURCES: tuple[ResourceType, ...] = (
    ResourceType("Namespace", "", "v1", "namespaces", False, ("ns",), ("status",)),
    ResourceType("Node", "", "v1", "nodes", False, ("no",), ("status",)),
    ResourceType("Pod", "", "v1", "pods", True, ("po",), ("status", "eviction", "log")),
    ResourceType("Service", "", "v1", "services", True, ("svc",), ("status",)),
    ResourceType("Endpoints", "", "v1", "endpoints", True, ("ep",)),
    ResourceType("ConfigMap", "", "v1", "configmaps", True, ("cm",)),
    ResourceType("Secret", "", "v1", "secrets", True),
    ResourceType("Event", "", "v1", "events", True, ("ev",)),
    ResourceType("ServiceAccount", "", "v1", "serviceaccounts", True, ("sa",)),
    ResourceType("Deployment", "apps", "v1", "deployments", True, ("deploy",), ("status", "scale")),
    ResourceType("ReplicaSet", "apps", "v1", "replicasets", True, ("rs",), ("status", "scale")),
    ResourceType("StatefulSet", "apps", "v1", "statefulsets", True, ("sts",), ("status", "scale")),
    ResourceType("DaemonSet", "apps", "v1", "daemonsets", True, ("ds",), ("status",)),
    ResourceType("ControllerRevision", "apps", "v1", "controllerrevisions", True),
    ResourceType("PodDisruptionBudget", "policy", "v1", "poddisruptionbudgets", True, ("pdb",), ("status",)),
    ResourceType(
        "HorizontalPodAutoscaler", "autoscaling", "v2", "horizontalpodautoscalers", True, ("hpa",), ("status",)
    ),
    ResourceType("CronJob", "batch", "v1", "cronjobs", True, ("cj",), ("status",)),
    ResourceType("Job", "batch", "v1", "jobs", True, (), ("status",)),
    ResourceType("Lease", "coordination.k8s.io", "v1", "leases", True),
    ResourceType(
        "CustomResourceDefinition",
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        False,
        ("crd",),
        ("status",),
    ),
)

RESOURCES_BY_KIND: dict[str, ResourceType] = {r.kind: r for r in RESOURCES}
