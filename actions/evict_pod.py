"""evict_pod: evict one pod through the Eviction API, so PodDisruptionBudgets are respected."""

from __future__ import annotations

from typing import Any

from actions.base import (
    Action,
    ActionContext,
    ActionLimits,
    ActionName,
    ActionRefused,
    Disruption,
    Invocation,
    NamespacedParams,
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
from actions.facts import Facts
from actions.kube import Kube, NotFoundError, TooManyRequestsError

Obj = dict[str, Any]


class EvictPodParams(NamespacedParams):
    """Which pod to evict."""


def pod_gone(kube: Kube, name: str, namespace: str, uid: str | None) -> bool:
    """Whether the pod (that very pod, by uid) is gone or terminating."""
    pod = kube.try_get("Pod", name, namespace)
    if pod is None or (uid is not None and pod["metadata"].get("uid") != uid):
        return True
    return bool(pod["metadata"].get("deletionTimestamp"))


def evict(kube: Kube, name: str, namespace: str) -> str | None:
    """Dry-run then evict; the PDB's refusal message when one blocks it, else None."""
    try:
        kube.evict(name, namespace, dry_run=True)
        kube.evict(name, namespace)
    except TooManyRequestsError as blocked:
        return str(blocked)
    return None


class EvictPod(Action[EvictPodParams]):
    """Evict a pod; its controller recreates it elsewhere."""

    name = ActionName.EVICT_POD
    summary = "Evict a pod through the Eviction API, respecting PodDisruptionBudgets."
    params_model = EvictPodParams
    profile = Profile(reversibility=Reversibility.NONE_NEEDED, scope=Scope.POD)
    owner_may_revert = False
    permissions = (
        Permission("", "pods", ("get",)),
        Permission("", "pods/eviction", ("create",)),
    )

    def target(self, params: EvictPodParams) -> TargetRef:
        return TargetRef("Pod", params.name, params.namespace)

    def preconditions(self, facts: Facts, params: EvictPodParams, limits: ActionLimits) -> list[Precondition]:
        owner = facts.target.owner_kind
        checks = [Precondition("has_controller", owner is not None, owner or "no controller: nothing recreates it")]
        pod = facts.pod
        if pod is not None and (pod.is_mirror_pod or pod.is_daemonset_pod):
            checks.append(Precondition("movable", False, "a mirror or DaemonSet pod: eviction does not move it"))
        return checks

    def execute(self, ctx: ActionContext, params: EvictPodParams) -> Outcome:
        ns, name = params.namespace, params.name
        pod = ctx.kube.try_get("Pod", name, ns)
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            return Outcome(False, f"pod {ns}/{name} is already gone or terminating")
        uid = pod["metadata"].get("uid")
        try:
            blocked = evict(ctx.kube, name, ns)
        except NotFoundError:
            return Outcome(False, f"pod {ns}/{name} went away before the eviction", before={"uid": uid})
        if blocked is not None:
            raise ActionRefused(self.name, f"a PodDisruptionBudget blocks evicting {ns}/{name}: {blocked}")
        node = (pod.get("spec") or {}).get("nodeName")
        return Outcome(True, f"evicted pod {ns}/{name}", {"uid": uid, "node": node}, {}, ("evict (dry run)", "evict"))

    def verify(self, ctx: ActionContext, params: EvictPodParams, outcome: Outcome) -> Verification:
        if pod_gone(ctx.kube, params.name, params.namespace, outcome.before.get("uid")):
            return Verification(ok=True, settled=True, detail="the pod is gone or terminating")
        return Verification(ok=False, settled=False, detail="the pod is still running")

    def inverse(self, params: EvictPodParams, outcome: Outcome) -> Invocation | None:
        return None

    def risk_hints(self, params: EvictPodParams) -> RiskHints:
        return RiskHints(Disruption.POD_EVICTION, "evicts", evicts_pods=True)
