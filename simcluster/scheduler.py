"""The scheduler: binds pending pods to Ready, schedulable nodes that fit their nodeSelector
and whose allocatable CPU and memory still hold the pods' requests."""

from __future__ import annotations

import heapq
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
    """Places unbound pods, tracking what each node already holds.

    Nodes wait in a heap ordered as `place` prefers them, so placing a pod costs the nodes it
    does not fit on plus a logarithm, not every node of the cluster.
    """

    def __init__(self, nodes: list[Obj], pods: list[Obj]) -> None:
        self._nodes = {str(n["metadata"]["name"]): n for n in nodes}
        self._used: dict[str, list[float]] = {name: [0.0, 0.0, 0.0] for name in self._nodes}
        self._allocatable: dict[str, tuple[float, float]] = {}
        for name, node in self._nodes.items():
            allocatable = node.get("status", {}).get("allocatable") or {}
            try:
                self._allocatable[name] = (
                    parse_quantity(allocatable.get("cpu", "0")),
                    parse_quantity(allocatable.get("memory", "0")),
                )
            except ValueError:
                self._allocatable[name] = (0.0, 0.0)
        for pod in pods:
            node_name = pod.get("spec", {}).get("nodeName")
            if node_name in self._used and pod.get("status", {}).get("phase") not in ("Succeeded", "Failed"):
                cpu, memory = pod_requests(pod)
                self._used[node_name][0] += cpu
                self._used[node_name][1] += memory
                self._used[node_name][2] += 1
        self._heap = [
            (used[2], used[0], name) for name, used in self._used.items() if node_schedulable(self._nodes[name])
        ]
        heapq.heapify(self._heap)

    def _fits(self, name: str, pod: Obj, cpu: float, memory: float) -> bool:
        selector = pod.get("spec", {}).get("nodeSelector") or {}
        labels = self._nodes[name]["metadata"].get("labels") or {}
        if any(labels.get(k) != v for k, v in selector.items()):
            return False
        used, (cpu_cap, memory_cap) = self._used[name], self._allocatable[name]
        return used[0] + cpu <= cpu_cap and used[1] + memory <= memory_cap

    def place(self, pod: Obj) -> str | None:
        """The node for a pod (fewest pods, then least CPU requested, then name), or None if none fits."""
        cpu, memory = pod_requests(pod)
        skipped = []
        chosen: str | None = None
        while self._heap:
            entry = heapq.heappop(self._heap)
            if self._fits(entry[2], pod, cpu, memory):
                chosen = entry[2]
                break
            skipped.append(entry)
        for entry in skipped:
            heapq.heappush(self._heap, entry)
        if chosen is None:
            return None
        used = self._used[chosen]
        used[0] += cpu
        used[1] += memory
        used[2] += 1
        heapq.heappush(self._heap, (used[2], used[0], chosen))
        return chosen
