"""The scheduler: binds pending pods to Ready, schedulable nodes that fit their nodeSelector
and whose allocatable CPU and memory still hold the pods' requests."""

from __future__ import annotations

from typing import Any

from simcluster.quantity import parse_quantity

Obj = dict[str, Any]


def pod_requests(pod: Obj) -> tuple[float, float]:
    """The pod's summed CPU (cores) and memory (bytes) requests."""
    cpu = memory = 0.0
    for container in pod.get("spec", {}).get("containers") or []:
        requests = (container.get("resources") or {}).get("requests") or {}
        try:
            cpu += parse_quantity(requests.get("cpu", 0))
            memory += parse_quantity(requests.get("memory", 0))
        except ValueError:
            continue
    return cpu, memory


def node_schedulable(node: Obj) -> bool:
    """Ready, not cordoned and without disk or memory pressure."""
    if node.get("spec", {}).get("unschedulable"):
        return False
    status = {c.get("type"): c.get("status") for c in node.get("status", {}).get("conditions") or []}
    return (
        status.get("Ready") == "True"
        and status.get("DiskPressure") != "True"
        and status.get("MemoryPressure") != "True"
    )


class Scheduler:
    """Places unbound pods, tracking what each node already holds."""

    def __init__(self, nodes: list[Obj], pods: list[Obj]) -> None:
        self._nodes = nodes
        self._used: dict[str, list[float]] = {n["metadata"]["name"]: [0.0, 0.0, 0.0] for n in nodes}
        for pod in pods:
            node = pod.get("spec", {}).get("nodeName")
            if node in self._used and pod.get("status", {}).get("phase") not in ("Succeeded", "Failed"):
                cpu, memory = pod_requests(pod)
                self._used[node][0] += cpu
                self._used[node][1] += memory
                self._used[node][2] += 1

    def _fits(self, node: Obj, pod: Obj) -> bool:
        selector = pod.get("spec", {}).get("nodeSelector") or {}
        labels = node["metadata"].get("labels") or {}
        if any(labels.get(k) != v for k, v in selector.items()):
            return False
        allocatable = node.get("status", {}).get("allocatable") or {}
        cpu, memory = pod_requests(pod)
        used = self._used[node["metadata"]["name"]]
        return used[0] + cpu <= parse_quantity(allocatable.get("cpu", "0")) and used[1] + memory <= parse_quantity(
            allocatable.get("memory", "0")
        )

    def place(self, pod: Obj) -> str | None:
        """The node for a pod (fewest pods, then least CPU requested, then name), or None if none fits."""
        candidates = [n for n in self._nodes if node_schedulable(n) and self._fits(n, pod)]
        if not candidates:
            return None
        best = min(
            candidates,
            key=lambda n: (
                self._used[n["metadata"]["name"]][2],
                self._used[n["metadata"]["name"]][0],
                n["metadata"]["name"],
            ),
        )
        name = str(best["metadata"]["name"])
        cpu, memory = pod_requests(pod)
        self._used[name][0] += cpu
        self._used[name][1] += memory
        self._used[name][2] += 1
        return name
