"""Fault injection: each fault changes cluster state the way a person's bad change or a
failing machine would, so that a real fix (rollback, restore, scale...) really clears it."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simcluster.clock import rfc3339
from simcluster.controllers.nodes import ANNOTATION_DISK, ANNOTATION_KUBELET
from simcluster.controllers.services import ANNOTATION_LOAD
from simcluster.errors import NotFound
from simcluster.pods import ANNOTATION_LEAK_PER_MINUTE, ANNOTATION_RUN_SECONDS
from simcluster.store import ObjectStore

Obj = dict[str, Any]
STUCK_TERMINATING = "sim.scutum.dev/stuck-terminating"


@dataclass(frozen=True)
class Fault:
    """A named fault: what it does and the function that applies it."""

    name: str
    summary: str
    apply: Callable[..., Obj]

    @property
    def params(self) -> list[str]:
        """The fault's parameter names, in order."""
        return [p for p in inspect.signature(self.apply).parameters if p != "store"]


def _first_container(obj: Obj) -> Obj:
    template = obj["spec"].get("jobTemplate", {}).get("spec", obj["spec"]).get("template", {})
    containers = template.get("spec", {}).get("containers") or []
    if not containers:
        raise ValueError(f"{obj['kind']} {obj['metadata']['name']} has no containers")
    return dict(containers[0])


def _change(store: ObjectStore, kind: str, namespace: str | None, name: str, change: Callable[[Obj], None]) -> Obj:
    try:
        return store.mutate(kind, namespace, name, change)
    except NotFound as exc:
        raise ValueError(exc.message) from None


def _set_image(store: ObjectStore, kind: str, namespace: str, name: str, image_tag: str) -> Obj:
    def change(obj: Obj) -> None:
        container = obj["spec"]["template"]["spec"]["containers"][0]
        base = (
            str(container["image"]).rsplit(":", 1)[0]
            if ":" in str(container["image"]).rsplit("/", 1)[-1]
            else container["image"]
        )
        container["image"] = f"{base}:{image_tag}"

    obj = _change(store, kind, namespace, name, change)
    return {"changed": f"{kind.lower()}/{name}", "image": _first_container(obj)["image"]}


def bad_image_rollout(store: ObjectStore, namespace: str, deployment: str) -> Obj:
    """Roll a Deployment to an image tag that does not exist (ImagePullBackOff, rollout stuck)."""
    return _set_image(store, "Deployment", namespace, deployment, "doesnotexist")


def bad_env(store: ObjectStore, namespace: str, deployment: str) -> Obj:
    """Add an env value that makes the app crash on start (new ReplicaSet revision, CrashLoopBackOff)."""

    def change(obj: Obj) -> None:
        container = obj["spec"]["template"]["spec"]["containers"][0]
        container["env"] = [e for e in container.get("env") or [] if e.get("name") != "SIM_FAIL"]
        container["env"].append({"name": "SIM_FAIL", "value": "crash"})

    _change(store, "Deployment", namespace, deployment, change)
    return {"changed": f"deployment/{deployment}", "env": "SIM_FAIL=crash"}


def bad_configmap_value(store: ObjectStore, namespace: str, configmap: str, key: str) -> Obj:
    """Write a value the consuming pods cannot parse: they crash."""

    def change(obj: Obj) -> None:
        obj.setdefault("data", {})[key] = "SIM_BAD"

    _change(store, "ConfigMap", namespace, configmap, change)
    return {"changed": f"configmap/{configmap}", "key": key, "value": "SIM_BAD"}


def service_selector_broken(store: ObjectStore, namespace: str, service: str) -> Obj:
    """Point a Service's selector at labels no pod has: no endpoints."""

    def change(obj: Obj) -> None:
        obj["spec"]["selector"] = {k: f"{v}-typo" for k, v in (obj["spec"].get("selector") or {"app": "x"}).items()}

    obj = _change(store, "Service", namespace, service, change)
    return {"changed": f"service/{service}", "selector": obj["spec"]["selector"]}


def service_targetport_broken(store: ObjectStore, namespace: str, service: str) -> Obj:
    """Point a Service's targetPort at a port no container listens on."""

    def change(obj: Obj) -> None:
        for port in obj["spec"].get("ports") or []:
            port["targetPort"] = 9999

    _change(store, "Service", namespace, service, change)
    return {"changed": f"service/{service}", "targetPort": 9999}


def service_deleted(store: ObjectStore, namespace: str, service: str) -> Obj:
    """Delete a Service that workloads depend on."""
    try:
        store.delete("Service", namespace, service)
    except NotFound as exc:
        raise ValueError(exc.message) from None
    return {"deleted": f"service/{service}"}


def scale_to_zero(store: ObjectStore, namespace: str, deployment: str) -> Obj:
    """Scale a Deployment to zero replicas: its Service loses every endpoint."""

    def change(obj: Obj) -> None:
        obj["spec"]["replicas"] = 0

    _change(store, "Deployment", namespace, deployment, change)
    return {"changed": f"deployment/{deployment}", "replicas": 0}


TIGHT_MEMORY_LIMIT = "48Mi"
"""Three quarters of a pod's default memory need (64Mi): OOMKilled, and one doubling fixes it,
as with a limit set a little too tight in a real change."""


def memory_limit_too_low(store: ObjectStore, namespace: str, deployment: str) -> Obj:
    """Set a memory limit below what the app needs: OOMKilled on start."""

    def change(obj: Obj) -> None:
        container = obj["spec"]["template"]["spec"]["containers"][0]
        resources = container.setdefault("resources", {})
        resources.setdefault("limits", {})["memory"] = TIGHT_MEMORY_LIMIT
        if "memory" in resources.get("requests", {}):
            resources["requests"]["memory"] = TIGHT_MEMORY_LIMIT

    _change(store, "Deployment", namespace, deployment, change)
    return {"changed": f"deployment/{deployment}", "memory_limit": TIGHT_MEMORY_LIMIT}


def memory_leak(store: ObjectStore, namespace: str, deployment: str) -> Obj:
    """Ship a build that leaks memory: pods grow until OOMKilled, again and again."""

    def change(obj: Obj) -> None:
        template = obj["spec"]["template"]
        template.setdefault("metadata", {}).setdefault("annotations", {})[ANNOTATION_LEAK_PER_MINUTE] = "32Mi"
        container = template["spec"]["containers"][0]
        container.setdefault("resources", {}).setdefault("limits", {}).setdefault("memory", "256Mi")

    _change(store, "Deployment", namespace, deployment, change)
    return {"changed": f"deployment/{deployment}", "leak_per_minute": "32Mi"}


def _annotate_node(store: ObjectStore, node: str, key: str, value: str) -> Obj:
    def change(obj: Obj) -> None:
        obj["metadata"].setdefault("annotations", {})[key] = value

    _change(store, "Node", None, node, change)
    return {"changed": f"node/{node}", key: value}


def node_not_ready(store: ObjectStore, node: str) -> Obj:
    """Stop a node's kubelet: the node goes NotReady and its pods are lost."""
    return _annotate_node(store, node, ANNOTATION_KUBELET, "stopped")


def node_disk_pressure(store: ObjectStore, node: str) -> Obj:
    """Fill a node's disk: DiskPressure, no new pods there."""
    return _annotate_node(store, node, ANNOTATION_DISK, "true")


def cronjob_runaway(store: ObjectStore, namespace: str, cronjob: str) -> Obj:
    """Run a CronJob every minute with jobs that never finish in time: jobs pile up."""

    def change(obj: Obj) -> None:
        obj["spec"]["schedule"] = "* * * * *"
        obj["spec"]["concurrencyPolicy"] = "Allow"
        template = obj["spec"].setdefault("jobTemplate", {}).setdefault("spec", {}).setdefault("template", {})
        template.setdefault("metadata", {}).setdefault("annotations", {})[ANNOTATION_RUN_SECONDS] = "86400"

    _change(store, "CronJob", namespace, cronjob, change)
    return {"changed": f"cronjob/{cronjob}", "schedule": "* * * * *"}


def cronjob_failing(store: ObjectStore, namespace: str, cronjob: str) -> Obj:
    """Make a CronJob's jobs crash: they fail past their backoff limit."""

    def change(obj: Obj) -> None:
        job = obj["spec"].setdefault("jobTemplate", {}).setdefault("spec", {})
        job["backoffLimit"] = min(int(job.get("backoffLimit", 6)), 1)
        container = job["template"]["spec"]["containers"][0]
        container["env"] = [e for e in container.get("env") or [] if e.get("name") != "SIM_FAIL"]
        container["env"].append({"name": "SIM_FAIL", "value": "crash"})

    _change(store, "CronJob", namespace, cronjob, change)
    return {"changed": f"cronjob/{cronjob}", "env": "SIM_FAIL=crash"}


def hpa_maxed_out(store: ObjectStore, namespace: str, hpa: str) -> Obj:
    """Raise the simulated load past what the HPA's maxReplicas can serve."""
    current = store.try_get("HorizontalPodAutoscaler", namespace, hpa)
    if current is None:
        raise ValueError(f'horizontalpodautoscalers.autoscaling "{hpa}" not found')
    load = str(int(current["spec"].get("maxReplicas", 1)) * 2)

    def change(obj: Obj) -> None:
        obj["metadata"].setdefault("annotations", {})[ANNOTATION_LOAD] = load

    _change(store, "HorizontalPodAutoscaler", namespace, hpa, change)
    return {"changed": f"horizontalpodautoscaler/{hpa}", "load": load}


def pod_stuck_terminating(store: ObjectStore, namespace: str, pod: str) -> Obj:
    """Delete a pod whose shutdown hangs: it keeps its deletionTimestamp until force-deleted."""

    def change(obj: Obj) -> None:
        obj["metadata"].setdefault("annotations", {})[STUCK_TERMINATING] = "true"

    _change(store, "Pod", namespace, pod, change)
    store.delete("Pod", namespace, pod)
    return {"deleted": f"pod/{pod}", "stuck": True}


def statefulset_bad_rollout(store: ObjectStore, namespace: str, statefulset: str) -> Obj:
    """Roll a StatefulSet to an image that crashes: the highest ordinal blocks the rollout."""
    return _set_image(store, "StatefulSet", namespace, statefulset, "broken")


def daemonset_bad_rollout(store: ObjectStore, namespace: str, daemonset: str) -> Obj:
    """Roll a DaemonSet to an image that does not exist."""
    return _set_image(store, "DaemonSet", namespace, daemonset, "doesnotexist")


def none(store: ObjectStore) -> Obj:
    """A control: change nothing."""
    return {"changed": None}


# --- faults added for the scenario suite (bench/) ---


def _change_container(store: ObjectStore, namespace: str, deployment: str, change: Callable[[Obj], None]) -> Obj:
    def apply(obj: Obj) -> None:
        change(obj["spec"]["template"]["spec"]["containers"][0])

    return _change(store, "Deployment", namespace, deployment, apply)


def _with_fail_marker(container: Obj, mode: str) -> None:
    container["env"] = [e for e in container.get("env") or [] if e.get("name") != "SIM_FAIL"]
    container["env"].append({"name": "SIM_FAIL", "value": mode})


def bad_command(store: ObjectStore, namespace: str, deployment: str) -> Obj:
    """Change a Deployment's command to a binary that exits at once (new revision, CrashLoopBackOff).

    The pod model has no notion of commands, so the change also carries its crash marker.
    """

    def change(container: Obj) -> None:
        container["command"] = ["/app/server-v2", "--serve"]
        _with_fail_marker(container, "crash")

    _change_container(store, namespace, deployment, change)
    return {"changed": f"deployment/{deployment}", "command": "/app/server-v2 --serve"}


def bad_readiness_probe(store: ObjectStore, namespace: str, deployment: str) -> Obj:
    """Point a Deployment's readiness probe at a port nothing listens on: pods run but never turn Ready.

    The pod model does not run probes, so the change also carries its unready marker.
    """

    def change(container: Obj) -> None:
        container["readinessProbe"] = {"httpGet": {"path": "/healthz", "port": 9999}, "periodSeconds": 5}
        _with_fail_marker(container, "unready")

    _change_container(store, namespace, deployment, change)
    return {"changed": f"deployment/{deployment}", "readinessProbe": "httpGet :9999"}


def resources_unschedulable(store: ObjectStore, namespace: str, deployment: str) -> Obj:
    """Raise a Deployment's CPU request past any node's capacity: new pods stay Pending (Unschedulable)."""

    def change(container: Obj) -> None:
        container.setdefault("resources", {}).setdefault("requests", {})["cpu"] = "64"

    _change_container(store, namespace, deployment, change)
    return {"changed": f"deployment/{deployment}", "cpu_request": "64"}


def bad_node_selector(store: ObjectStore, namespace: str, deployment: str) -> Obj:
    """Give a Deployment a nodeSelector no node matches: new pods stay Pending (Unschedulable)."""

    def change(obj: Obj) -> None:
        obj["spec"]["template"]["spec"]["nodeSelector"] = {"disktype": "nvme-not-in-this-cluster"}

    _change(store, "Deployment", namespace, deployment, change)
    return {"changed": f"deployment/{deployment}", "nodeSelector": "disktype=nvme-not-in-this-cluster"}


RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def rollout_restart(store: ObjectStore, namespace: str, deployment: str) -> Obj:
    """A harmless `kubectl rollout restart`: a new revision with the same spec (used after a bad patch)."""
    moment = rfc3339(store.clock.now())

    def change(obj: Obj) -> None:
        template = obj["spec"]["template"]
        template.setdefault("metadata", {}).setdefault("annotations", {})[RESTARTED_AT] = moment

    _change(store, "Deployment", namespace, deployment, change)
    return {"changed": f"deployment/{deployment}", "restartedAt": moment}


def deployment_recreated_broken(store: ObjectStore, namespace: str, deployment: str) -> Obj:
    """Delete a Deployment (its ReplicaSets and pods go with it) and create it again with an image
    that does not exist: the cluster keeps no revision from before the incident."""
    current = store.try_get("Deployment", namespace, deployment)
    if current is None:
        raise ValueError(f'deployments.apps "{deployment}" not found')
    store.delete("Deployment", namespace, deployment)
    metadata = {k: v for k, v in current["metadata"].items() if k in ("name", "namespace", "labels", "annotations")}
    metadata["annotations"] = {
        k: v for k, v in (metadata.get("annotations") or {}).items() if not k.startswith("deployment.kubernetes.io/")
    }
    spec = copy.deepcopy(current["spec"])
    container = spec["template"]["spec"]["containers"][0]
    base = str(container["image"]).rsplit(":", 1)[0]
    container["image"] = f"{base}:doesnotexist"
    store.create("Deployment", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata, "spec": spec})
    return {"recreated": f"deployment/{deployment}", "image": container["image"]}


CATALOGUE: dict[str, Fault] = {
    f.__name__: Fault(f.__name__, (f.__doc__ or "").strip(), f)
    for f in (
        bad_image_rollout,
        bad_env,
        bad_configmap_value,
        service_selector_broken,
        service_targetport_broken,
        service_deleted,
        scale_to_zero,
        memory_limit_too_low,
        memory_leak,
        node_not_ready,
        node_disk_pressure,
        cronjob_runaway,
        cronjob_failing,
        hpa_maxed_out,
        pod_stuck_terminating,
        statefulset_bad_rollout,
        daemonset_bad_rollout,
        none,
        bad_command,
        bad_readiness_probe,
        resources_unschedulable,
        bad_node_selector,
        rollout_restart,
        deployment_recreated_broken,
    )
}


SHOP, PAYMENTS, BATCH = {"namespace": "shop"}, {"namespace": "payments"}, {"namespace": "batch"}
SAMPLE_TARGETS: dict[str, Obj] = {
    "bad_image_rollout": SHOP | {"deployment": "frontend"},
    "bad_env": SHOP | {"deployment": "cart"},
    "bad_configmap_value": SHOP | {"configmap": "cart-config", "key": "CART_TTL"},
    "service_selector_broken": SHOP | {"service": "cart"},
    "service_targetport_broken": SHOP | {"service": "cart"},
    "service_deleted": SHOP | {"service": "cart"},
    "scale_to_zero": SHOP | {"deployment": "catalog"},
    "memory_limit_too_low": SHOP | {"deployment": "catalog"},
    "memory_leak": SHOP | {"deployment": "catalog"},
    "node_not_ready": {"node": "node-2"},
    "node_disk_pressure": {"node": "node-2"},
    "cronjob_runaway": BATCH | {"cronjob": "nightly-report"},
    "cronjob_failing": BATCH | {"cronjob": "nightly-report"},
    "hpa_maxed_out": SHOP | {"hpa": "cart"},
    "statefulset_bad_rollout": PAYMENTS | {"statefulset": "ledger"},
    "daemonset_bad_rollout": {"namespace": "monitoring", "daemonset": "node-exporter"},
}


def _sample_target(store: ObjectStore, fault: str) -> Obj:
    """The sample estate's target for a fault injected without parameters (a demo scenario)."""
    if fault == "pod_stuck_terminating":
        pods = store.list("Pod", "shop", label_selector="app=frontend")[0]
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        if not live:
            raise ValueError("pod_stuck_terminating needs namespace and pod parameters")
        return {"namespace": "shop", "pod": live[0]["metadata"]["name"]}
    return dict(SAMPLE_TARGETS.get(fault, {}))


def inject(store: ObjectStore, fault: str, params: Obj) -> Obj:
    """Apply a fault by name; ValueError for an unknown fault, wrong params or a missing target.

    Without parameters, a fault targets the sample estate's usual victim (demo scenarios).
    """
    entry = CATALOGUE.get(fault)
    if entry is None:
        raise ValueError(f"unknown fault {fault!r}; known: {', '.join(sorted(CATALOGUE))}")
    if not params and entry.params:
        params = _sample_target(store, fault)
    if set(params) != set(entry.params):
        raise ValueError(f"fault {fault!r} takes parameters {entry.params}, got {sorted(params)}")
    if any(not isinstance(v, str) or not v for v in params.values()):
        raise ValueError(f"fault {fault!r} parameters must be non-empty strings")
    return {"fault": fault, "params": dict(params), **entry.apply(store, **params)}


def catalogue() -> list[Obj]:
    """The faults with their summaries and parameter names."""
    return [{"name": f.name, "summary": f.summary, "params": f.params} for f in CATALOGUE.values()]
