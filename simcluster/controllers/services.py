"""Services -> Endpoints, PodDisruptionBudget status and the eviction check, HPA scaling."""

from __future__ import annotations

import math
from typing import Any

from simcluster.controllers.context import SIM_PREFIX, Context, int_or_percent, pod_active, pod_ready, with_condition
from simcluster.errors import TooManyRequests
from simcluster.selectors import LabelSelector

Obj = dict[str, Any]
ANNOTATION_LOAD = SIM_PREFIX + "load"  # simulated demand, in pods running at the HPA's target utilisation


class PodIndex:
    """Active pods by namespace and by each (namespace, label, value), so matching a selector
    costs the pods that carry one of its labels, not every pod of the namespace."""

    def __init__(self, pods: list[Obj]) -> None:
        self.by_namespace: dict[str, list[Obj]] = {}
        self._by_label: dict[tuple[str, str, str], list[Obj]] = {}
        for pod in pods:
            if not pod_active(pod):
                continue
            namespace = pod["metadata"]["namespace"]
            self.by_namespace.setdefault(namespace, []).append(pod)
            for key, value in (pod["metadata"].get("labels") or {}).items():
                self._by_label.setdefault((namespace, key, str(value)), []).append(pod)

    def matching(self, namespace: str, selector: Obj | None) -> list[Obj]:
        """Active pods of the namespace matched by a LabelSelector object, in namespace/name order."""
        match = LabelSelector.from_match_labels(selector)
        candidates = self.by_namespace.get(namespace, [])
        for key, value in ((selector or {}).get("matchLabels") or {}).items():
            narrowed = self._by_label.get((namespace, key, str(value)), [])
            if len(narrowed) < len(candidates):
                candidates = narrowed
        return [p for p in candidates if match.matches(p["metadata"].get("labels") or {})]


def _pod_index(ctx: Context) -> PodIndex:
    return PodIndex(ctx.objects("Pod"))


def _target_port(port: Obj, pod: Obj) -> int | None:
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, int):
        return target
    for container in pod.get("spec", {}).get("containers") or []:
        for cport in container.get("ports") or []:
            if cport.get("name") == target:
                return int(cport["containerPort"])
    return None


def _subsets(service: Obj, pods: list[Obj]) -> list[Obj]:
    ready: list[Obj] = []
    not_ready: list[Obj] = []
    ports: list[Obj] = []
    for pod in pods:
        address = {
            "ip": pod.get("status", {}).get("podIP", ""),
            "nodeName": pod.get("spec", {}).get("nodeName", ""),
            "targetRef": {
                "kind": "Pod",
                "namespace": pod["metadata"]["namespace"],
                "name": pod["metadata"]["name"],
                "uid": pod["metadata"]["uid"],
            },
        }
        resolved = []
        for port in service.get("spec", {}).get("ports") or []:
            number = _target_port(port, pod)
            declared = {
                int(cp.get("containerPort", 0))
                for c in pod["spec"].get("containers") or []
                for cp in c.get("ports") or []
            }
            if number is None or (declared and number not in declared):
                continue
            resolved.append({"name": port.get("name", ""), "port": number, "protocol": port.get("protocol", "TCP")})
        if not resolved:
            continue
        ports = resolved
        (ready if pod_ready(pod) else not_ready).append(address)
    if not ready and not not_ready:
        return []
    subset: Obj = {"ports": [{k: v for k, v in p.items() if v != ""} for p in ports]}
    if ready:
        subset["addresses"] = ready
    if not_ready:
        subset["notReadyAddresses"] = not_ready
    return [subset]


def sync_endpoints(ctx: Context) -> None:
    """Endpoints of each selector Service: its ready pods whose ports match the targetPort."""
    pods = _pod_index(ctx)
    services = {(s["metadata"]["namespace"], s["metadata"]["name"]): s for s in ctx.objects("Service")}
    endpoints = {}
    for ep in ctx.objects("Endpoints"):
        key = (ep["metadata"]["namespace"], ep["metadata"]["name"])
        endpoints[key] = ep
        if key not in services and (ep["metadata"].get("labels") or {}).get("endpoints.sim.scutum.dev/managed"):
            ctx.delete("Endpoints", ep)
    for (namespace, name), service in services.items():
        selector = service.get("spec", {}).get("selector")
        if not selector:
            continue
        members = pods.matching(namespace, {"matchLabels": selector})
        subsets = _subsets(service, [p for p in members if p.get("status", {}).get("podIP")])
        current = endpoints.get((namespace, name))
        body = {
            "metadata": {"name": name, "namespace": namespace, "labels": {"endpoints.sim.scutum.dev/managed": "true"}},
            "subsets": subsets,
        }
        if current is None:
            ctx.create("Endpoints", body)
        elif current.get("subsets") != subsets:

            def replace(obj: Obj, subsets: list[Obj] = subsets) -> None:
                obj["subsets"] = subsets

            ctx.store.mutate("Endpoints", namespace, name, replace)


# --- PodDisruptionBudgets ---------------------------------------------------------------


def _pdb_numbers(pdb: Obj, pods: list[Obj]) -> tuple[int, int, int]:
    """(expected, healthy, desired healthy) for a PDB over its matching active pods."""
    expected = len(pods)
    healthy = sum(1 for p in pods if pod_ready(p))
    spec = pdb.get("spec") or {}
    if "maxUnavailable" in spec:
        desired = max(0, expected - int_or_percent(spec["maxUnavailable"], expected, round_up=False))
    else:
        desired = int_or_percent(spec.get("minAvailable", 1), expected, round_up=True)
    return expected, healthy, desired


def _pdb_pods(pdb: Obj, pods: PodIndex) -> list[Obj]:
    return pods.matching(pdb["metadata"]["namespace"], pdb.get("spec", {}).get("selector"))


def sync_pdbs(ctx: Context) -> None:
    """Report each PDB's expected, healthy and allowed disruptions."""
    pdbs = ctx.objects("PodDisruptionBudget")
    if not pdbs:
        return
    pods = _pod_index(ctx)
    for pdb in pdbs:
        expected, healthy, desired = _pdb_numbers(pdb, _pdb_pods(pdb, pods))
        allowed = max(0, healthy - desired)
        conditions = with_condition(
            list((pdb.get("status") or {}).get("conditions") or []),
            {
                "type": "DisruptionAllowed",
                "status": "True" if allowed else "False",
                "reason": "SufficientPods" if allowed else "InsufficientPods",
                "message": "",
                "observedGeneration": pdb["metadata"].get("generation", 1),
            },
            ctx.stamp,
        )
        status = {
            "observedGeneration": pdb["metadata"].get("generation", 1),
            "currentHealthy": healthy,
            "desiredHealthy": desired,
            "disruptionsAllowed": allowed,
            "expectedPods": expected,
            "conditions": conditions,
        }
        ctx.set_status("PodDisruptionBudget", pdb, status)


def check_eviction(ctx: Context, pod: Obj) -> None:
    """Raise TooManyRequests when a PDB covering the pod allows no disruption now."""
    if not pod_ready(pod):
        return  # evicting an unhealthy pod never lowers availability
    namespace = pod["metadata"]["namespace"]
    pods = PodIndex([p for p in ctx.objects("Pod") if p["metadata"]["namespace"] == namespace])
    for pdb in ctx.objects("PodDisruptionBudget"):
        if pdb["metadata"]["namespace"] != namespace:
            continue
        covered = _pdb_pods(pdb, pods)
        if not any(p["metadata"]["name"] == pod["metadata"]["name"] for p in covered):
            continue
        _, healthy, desired = _pdb_numbers(pdb, covered)
        if healthy - desired <= 0:
            raise TooManyRequests(
                "Cannot evict pod as it would violate the pod's disruption budget.",
                details={
                    "causes": [
                        {
                            "reason": "DisruptionBudget",
                            "message": f"The disruption budget {pdb['metadata']['name']} needs {desired} "
                            f"healthy pods and has {healthy} currently",
                        }
                    ]
                },
            )


# --- HorizontalPodAutoscalers -----------------------------------------------------------


def sync_hpas(ctx: Context) -> None:
    """Scale each HPA's target within min/max from its simulated load."""
    for hpa in ctx.objects("HorizontalPodAutoscaler"):
        spec = hpa.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        namespace = hpa["metadata"]["namespace"]
        kind = ref.get("kind", "Deployment")
        if kind not in ("Deployment", "StatefulSet", "ReplicaSet"):
            continue
        target = ctx.store.try_get(kind, namespace, ref.get("name", ""))
        if target is None:
            continue
        current = int(target["spec"].get("replicas", 1))
        low, high = int(spec.get("minReplicas", 1)), int(spec.get("maxReplicas", 1))
        notes = hpa["metadata"].get("annotations") or {}
        try:
            demand = float(notes[ANNOTATION_LOAD]) if ANNOTATION_LOAD in notes else float(current)
        except ValueError:
            demand = float(current)
        wanted = max(1, math.ceil(demand))
        desired = min(high, max(low, wanted))
        if desired != current:

            def scale(obj: Obj, desired: int = desired) -> None:
                obj["spec"]["replicas"] = desired

            ctx.store.mutate(kind, namespace, ref["name"], scale)
        limited = wanted > high or wanted < low
        conditions = list((hpa.get("status") or {}).get("conditions") or [])
        conditions = with_condition(
            conditions,
            {"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale", "message": ""},
            ctx.stamp,
        )
        conditions = with_condition(
            conditions,
            {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound", "message": ""},
            ctx.stamp,
        )
        conditions = with_condition(
            conditions,
            {
                "type": "ScalingLimited",
                "status": "True" if limited else "False",
                "reason": "TooManyReplicas" if limited else "DesiredWithinRange",
                "message": "",
            },
            ctx.stamp,
        )
        previous = (hpa.get("status") or {}).get("lastScaleTime")
        status = {
            "currentReplicas": current,
            "desiredReplicas": desired,
            "conditions": conditions,
            "lastScaleTime": ctx.stamp if desired != current or previous is None else previous,
        }
        ctx.set_status("HorizontalPodAutoscaler", hpa, status)
