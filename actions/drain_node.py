"""drain_node: cordon a node and optionally evict its pods (not DaemonSet or mirror pods) within PDBs.

`cordon=False` uncordons: that is the inverse. Evictions a PodDisruptionBudget blocks are retried
until ActionLimits.drain_timeout_seconds; then the action gives up, leaving the node cordoned,
and its Outcome lists the pods that remained.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from actions.base import (
    DNS1123_SUBDOMAIN,
    Action,
    ActionContext,
    ActionLimits,
    ActionName,
    ActionParams,
    ActionRefused,
    Disruption,
    Invocation,
    Outcome,
    Permission,
    Precondition,
    Profile,
    Reversibility,
    RiskHints,
    Scope,
    TargetRef,
    Verification,
)
from actions.evict_pod import evict
from actions.facts import Facts
from actions.guarded_write import Write, dry_run_then_write
from actions.kube import Kube, NotFoundError, PatchType
from actions.objects import MIRROR_ANNOTATION

Obj = dict[str, Any]
POLL_SECONDS = 5.0


class DrainNodeParams(ActionParams):
    """Which node, and what to do to it."""

    name: str = Field(pattern=DNS1123_SUBDOMAIN, max_length=253)
    """Name of the node."""
    cordon: bool = True
    """True cordons (spec.unschedulable); False uncordons, which is the inverse."""
    evict_pods: bool = False
    """Also evict the node's pods (not DaemonSet-owned or mirror pods), within PDBs."""

    @model_validator(mode="after")
    def _evict_only_when_cordoning(self) -> DrainNodeParams:
        if self.evict_pods and not self.cordon:
            raise ValueError("evict_pods needs cordon=True: pods evicted from a schedulable node come straight back")
        return self


def evictable_pods(kube: Kube, node: str, *, protected: tuple[str, ...] = ()) -> list[Obj]:
    """Pods on the node a drain evicts: not DaemonSet-owned, not mirror pods, not finished or
    terminating, and never in a protected namespace."""
    result = []
    for pod in kube.list("Pod", field_selector=f"spec.nodeName={node}"):
        meta = pod["metadata"]
        if (pod.get("spec") or {}).get("nodeName") != node or meta.get("deletionTimestamp"):
            continue
        if meta.get("namespace") in protected:
            continue
        if MIRROR_ANNOTATION in (meta.get("annotations") or {}):
            continue
        if any(o.get("kind") == "DaemonSet" for o in meta.get("ownerReferences") or []):
            continue
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        result.append(pod)
    return result


def drain_caps(
    params: DrainNodeParams, limits: ActionLimits, *, pod_namespaces: tuple[str, ...], nodes: tuple[int, int] | None
) -> list[Precondition]:
    """The operator's caps on a drain: how many pods it may evict, and what share of the nodes may
    be cordoned once it has (`nodes` = (all, already cordoned) counting this one, None: unknown)."""
    checks: list[Precondition] = []
    if params.evict_pods:
        count = sum(1 for ns in pod_namespaces if ns not in limits.protected_namespaces)
        cap = limits.max_drain_evictions
        checks.append(Precondition("evictions_within_limit", count <= cap, f"{count} pods to evict, at most {cap}"))
    if params.cordon and nodes is not None and nodes[0] > 0:
        share = nodes[1] / nodes[0]
        cap_share = limits.max_unschedulable_fraction
        detail = f"{nodes[1]} of {nodes[0]} nodes cordoned afterwards, at most {cap_share:.0%}"
        checks.append(Precondition("cordoned_share_within_limit", share <= cap_share, detail))
    return checks


def _evict_all(ctx: ActionContext, node: str) -> tuple[list[str], list[str]]:
    """Evict until none remain or the drain timeout passes: (evicted, remaining) as namespace/name."""
    deadline = ctx.clock().timestamp() + ctx.limits.drain_timeout_seconds
    evicted: list[str] = []
    while True:
        remaining: list[str] = []
        for pod in evictable_pods(ctx.kube, node, protected=ctx.limits.protected_namespaces):
            ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
            try:
                blocked = evict(ctx.kube, name, ns)
            except NotFoundError:
                continue
            (remaining if blocked else evicted).append(f"{ns}/{name}")
        left = deadline - ctx.clock().timestamp()
        if not remaining or left <= 0:
            return evicted, remaining
        ctx.sleep(min(POLL_SECONDS, left))


class DrainNode(Action[DrainNodeParams]):
    """Cordon a node and optionally move its pods away."""

    name = ActionName.DRAIN_NODE
    summary = "Cordon a node and optionally evict its pods (not DaemonSet or mirror pods) within PDBs."
    params_model = DrainNodeParams
    profile = Profile(reversibility=Reversibility.PARTIALLY_REVERSIBLE, scope=Scope.NODE)
    owner_may_revert = False
    permissions = (
        Permission("", "nodes", ("get", "patch")),
        Permission("", "pods", ("list",)),
        Permission("", "pods/eviction", ("create",)),
    )

    def target(self, params: DrainNodeParams) -> TargetRef:
        return TargetRef("Node", params.name)

    def preconditions(self, facts: Facts, params: DrainNodeParams, limits: ActionLimits) -> list[Precondition]:
        node = facts.node
        if node is None:
            return [Precondition("node_facts", False, f"node {params.name} could not be read")]
        nodes = None
        if node.cluster_nodes is not None and node.cluster_unschedulable is not None:
            nodes = (node.cluster_nodes, node.cluster_unschedulable + (0 if node.unschedulable else 1))
        return drain_caps(params, limits, pod_namespaces=node.pod_namespaces, nodes=nodes)

    def execute(self, ctx: ActionContext, params: DrainNodeParams) -> Outcome:
        state: dict[str, bool] = {}
        if params.evict_pods:
            pods = evictable_pods(ctx.kube, params.name, protected=ctx.limits.protected_namespaces)
            namespaces = tuple(str(p["metadata"].get("namespace", "")) for p in pods)
            for check in drain_caps(params, ctx.limits, pod_namespaces=namespaces, nodes=None):
                if not check.holds:
                    raise ActionRefused(self.name, check.detail)

        def plan() -> Write | None:
            node = ctx.kube.try_get("Node", params.name)
            if node is None:
                raise ActionRefused(self.name, f"node {params.name} does not exist")
            state["cordoned"] = bool((node.get("spec") or {}).get("unschedulable", False))
            if state["cordoned"] == params.cordon:
                return None
            patch = {"spec": {"unschedulable": params.cordon}}
            return lambda dry: ctx.kube.patch(
                "Node", params.name, patch, patch_type=PatchType.MERGE, dry_run=dry, field_manager=ctx.field_manager
            )

        cordon_changed = dry_run_then_write(plan) is not None
        evicted, remaining = _evict_all(ctx, params.name) if params.evict_pods else ([], [])
        verb = "cordoned" if params.cordon else "uncordoned"
        parts = [f"node {params.name} {verb}" + ("" if cordon_changed else " already")]
        if params.evict_pods:
            parts.append(f"evicted {len(evicted)} pod(s)")
        if remaining:
            parts.append(f"gave up after {ctx.limits.drain_timeout_seconds:g}s; PDBs kept: {', '.join(remaining)}")
        after = {"cordoned": params.cordon, "evicted": evicted, "remaining": remaining}
        changed = cordon_changed or bool(evicted)
        return Outcome(changed, "; ".join(parts), {"cordoned": state["cordoned"]}, after)

    def verify(self, ctx: ActionContext, params: DrainNodeParams, outcome: Outcome) -> Verification:
        node = ctx.kube.try_get("Node", params.name)
        if node is None:
            return Verification(ok=False, settled=True, detail="the node is gone")
        if bool((node.get("spec") or {}).get("unschedulable", False)) != params.cordon:
            return Verification(ok=False, settled=True, detail="spec.unschedulable is not as wanted")
        if params.evict_pods:
            pods = evictable_pods(ctx.kube, params.name, protected=ctx.limits.protected_namespaces)
            left = [f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in pods]
            if left:
                return Verification(ok=False, settled=False, detail=f"pods still on the node: {', '.join(left)}")
        return Verification(ok=True, settled=True, detail="cordoned" if params.cordon else "schedulable")

    def inverse(self, params: DrainNodeParams, outcome: Outcome) -> Invocation | None:
        if outcome.before.get("cordoned") == params.cordon:
            return None
        return Invocation(self.name, {"name": params.name, "cordon": not params.cordon})

    def risk_hints(self, params: DrainNodeParams) -> RiskHints:
        return RiskHints(
            Disruption.NODE_DRAIN,
            ("cordons" if params.cordon else "uncordons"),
            evicts_pods=params.evict_pods,
            reversibility=None if params.evict_pods else Reversibility.REVERSIBLE,
        )
