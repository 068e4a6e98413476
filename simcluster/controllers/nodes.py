"""Node conditions, pods on lost nodes, pods whose grace period ended, and pod binding."""

from __future__ import annotations

from typing import Any

from simcluster.controllers.context import SIM_PREFIX, Context, condition, pod_active, with_condition
from simcluster.scheduler import Scheduler

Obj = dict[str, Any]

ANNOTATION_KUBELET = SIM_PREFIX + "kubelet"  # "stopped" -> the node goes NotReady
ANNOTATION_DISK = SIM_PREFIX + "disk-pressure"  # "true" -> DiskPressure
ANNOTATION_MEMORY = SIM_PREFIX + "memory-pressure"  # "true" -> MemoryPressure
POD_EVICTION_SECONDS = 300.0


SCHEDULER = "default-scheduler"


def _node_conditions(ctx: Context, node: Obj) -> list[Obj]:
    notes = node["metadata"].get("annotations") or {}
    conditions = list((node.get("status") or {}).get("conditions") or [])
    ready = notes.get(ANNOTATION_KUBELET) != "stopped"
    for kind, pressure, reason_true, reason_false in (
        (
            "MemoryPressure",
            notes.get(ANNOTATION_MEMORY) == "true",
            "KubeletHasInsufficientMemory",
            "KubeletHasSufficientMemory",
        ),
        ("DiskPressure", notes.get(ANNOTATION_DISK) == "true", "KubeletHasDiskPressure", "KubeletHasNoDiskPressure"),
        ("PIDPressure", False, "KubeletHasInsufficientPID", "KubeletHasSufficientPID"),
    ):
        status = "Unknown" if not ready else ("True" if pressure else "False")
        reason = "NodeStatusUnknown" if not ready else (reason_true if pressure else reason_false)
        conditions = with_condition(
            conditions, {"type": kind, "status": status, "reason": reason, "message": reason}, ctx.stamp
        )
    conditions = with_condition(
        conditions,
        {
            "type": "Ready",
            "status": "True" if ready else "Unknown",
            "reason": "KubeletReady" if ready else "NodeStatusUnknown",
            "message": "kubelet is posting ready status" if ready else "Kubelet stopped posting node status.",
        },
        ctx.stamp,
    )
    return conditions


def sync_nodes(ctx: Context) -> dict[str, str]:
    """Refresh node conditions and taints; returns the Ready nodes and their IPs."""
    ready: dict[str, str] = {}
    for node in ctx.objects("Node"):
        status = dict(node.get("status") or {})
        status["conditions"] = _node_conditions(ctx, node)
        status.setdefault("capacity", {"cpu": "4", "memory": "16Gi", "pods": "110"})
        status.setdefault("allocatable", dict(status["capacity"]))
        ip = next((a["address"] for a in status.get("addresses") or [] if a.get("type") == "InternalIP"), "10.0.0.1")
        ctx.set_status("Node", node, status)
        if (node["metadata"].get("annotations") or {}).get(ANNOTATION_KUBELET) != "stopped":
            ready[node["metadata"]["name"]] = ip
    return ready


def lost_pods(ctx: Context, ready_nodes: dict[str, str]) -> None:
    """Pods on a NotReady node turn not ready, and after a while are deleted so controllers replace them.

    DaemonSet pods tolerate an unreachable node, as on a real cluster, so they stay.
    """
    lost = {n["metadata"]["name"]: n for n in ctx.objects("Node") if n["metadata"]["name"] not in ready_nodes}
    if not lost:
        return
    for pod in ctx.objects("Pod"):
        node = lost.get(pod.get("spec", {}).get("nodeName", ""))
        if node is None or not pod_active(pod):
            continue
        owners = {ref.get("kind") for ref in pod["metadata"].get("ownerReferences") or []}
        since = next((c.get("lastTransitionTime") for c in node["status"]["conditions"] if c["type"] == "Ready"), None)
        if "DaemonSet" not in owners and ctx.later(since, POD_EVICTION_SECONDS):
            ctx.delete("Pod", pod, grace_period_seconds=0)
            continue
        status = dict(pod.get("status") or {})
        conditions = list(status.get("conditions") or [])
        for kind in ("Ready", "ContainersReady"):
            conditions = with_condition(
                conditions, {"type": kind, "status": "False", "reason": "NodeLost", "lastProbeTime": None}, ctx.stamp
            )
        status["conditions"] = conditions
        ctx.set_status("Pod", pod, status)


def finish_terminating(ctx: Context) -> None:
    """Remove pods whose grace period has passed, unless they are stuck."""
    for pod in ctx.objects("Pod"):
        meta = pod["metadata"]
        if not meta.get("deletionTimestamp") or meta.get("finalizers"):
            continue
        if (meta.get("annotations") or {}).get(SIM_PREFIX + "stuck-terminating"):
            continue
        if ctx.later(meta["deletionTimestamp"], float(meta.get("deletionGracePeriodSeconds") or 0)):
            for container in pod.get("spec", {}).get("containers") or []:
                message = f"Stopping container {container['name']}"
                ctx.event(pod, type_="Normal", reason="Killing", message=message, component="kubelet")
            ctx.delete("Pod", pod, grace_period_seconds=0)


def bind_pods(ctx: Context) -> None:
    """Bind each unscheduled pod to a node, or mark it Unschedulable."""
    pending = [p for p in ctx.objects("Pod") if not p.get("spec", {}).get("nodeName") and pod_active(p)]
    if not pending:
        return
    scheduler = Scheduler(ctx.objects("Node"), ctx.objects("Pod"))
    for pod in pending:
        node = scheduler.place(pod)
        meta = pod["metadata"]
        if node is None:
            if (condition(pod, "PodScheduled") or {}).get("reason") != "Unschedulable":
                message = (
                    f"0/{len(ctx.objects('Node'))} nodes are available: no node fits the pod's requests or selector."
                )
                ctx.event(
                    pod, type_="Warning", reason="FailedScheduling", message=message, component="default-scheduler"
                )
            status = dict(pod.get("status") or {})
            status["conditions"] = with_condition(
                list(status.get("conditions") or []),
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/0 nodes are available.",
                    "lastProbeTime": None,
                },
                ctx.stamp,
            )
            ctx.set_status("Pod", pod, status)
            continue

        def bind(obj: Obj, node: str = node) -> None:
            obj["spec"]["nodeName"] = node

        ctx.store.mutate("Pod", meta["namespace"], meta["name"], bind)
        message = f"Successfully assigned {meta['namespace']}/{meta['name']} to {node}"
        ctx.event(pod, type_="Normal", reason="Scheduled", message=message, component=SCHEDULER)
