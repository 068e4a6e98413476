"""scale_workload: set replicas within bounds, or move the HPA's bounds when one targets the workload."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from actions.base import (
    Action,
    ActionContext,
    ActionLimits,
    ActionName,
    ActionParams,
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
from actions.facts import EventReason, Facts
from actions.guarded_write import Write, dry_run_then_write
from actions.kube import Kube, PatchType
from actions.workloads import verify_rollout

Obj = dict[str, Any]
HPA = "HorizontalPodAutoscaler"


class HpaBounds(ActionParams):
    """An HPA's replica bounds."""

    min_replicas: int = Field(ge=1, le=10_000)
    """The HPA's minReplicas."""
    max_replicas: int = Field(ge=1, le=10_000)
    """The HPA's maxReplicas (at least min_replicas)."""

    @model_validator(mode="after")
    def _ordered(self) -> HpaBounds:
        if self.max_replicas < self.min_replicas:
            raise ValueError("max_replicas must be at least min_replicas")
        return self


class ScaleParams(NamespacedParams):
    """Which workload to scale and to how many replicas."""

    kind: Literal["Deployment", "StatefulSet"]
    """The workload's kind: Deployment or StatefulSet."""
    replicas: int = Field(ge=0, le=10_000)
    """Wanted replicas; also bounded by the operator's max_scale_replicas. With an HPA, scaling up
    raises its minReplicas to this and scaling down lowers its maxReplicas to this."""
    hpa_bounds: HpaBounds | None = None
    """When an HPA targets the workload, set exactly these bounds instead (the inverse uses it to put
    the previous bounds back)."""


def find_hpa(kube: Kube, kind: str, name: str, namespace: str) -> Obj | None:
    """The HPA whose scaleTargetRef is this workload, if any."""
    for hpa in kube.list(HPA, namespace):
        ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        if ref.get("kind") == kind and ref.get("name") == name:
            return hpa
    return None


def scale_caps(params: ScaleParams, limits: ActionLimits) -> list[Precondition]:
    """The operator's cap on replicas and on HPA bounds: the same check for plan, risk and execute."""
    cap = limits.max_scale_replicas
    checks = [
        Precondition(
            "within_limit", params.replicas <= cap, f"{params.replicas} replicas against max_scale_replicas {cap}"
        )
    ]
    if params.hpa_bounds is not None:
        low, high = params.hpa_bounds.min_replicas, params.hpa_bounds.max_replicas
        checks.append(
            Precondition(
                "hpa_bounds_within_limit", high <= cap, f"HPA bounds {low}..{high} against max_scale_replicas {cap}"
            )
        )
    return checks


def _wanted_bounds(params: ScaleParams, current_min: int, current_max: int, replicas: int) -> tuple[int, int]:
    if params.hpa_bounds is not None:
        return params.hpa_bounds.min_replicas, params.hpa_bounds.max_replicas
    if params.replicas > replicas:
        return params.replicas, max(current_max, params.replicas)
    if params.replicas < replicas:
        return min(current_min, params.replicas), params.replicas
    return current_min, current_max


def new_replicas_schedulable(facts: Facts, params: ScaleParams) -> list[Precondition]:
    """A scale-up is useless while the scheduler already finds no node for the workload's pods
    (FailedScheduling Events on pods still Pending): the new replicas would stay Pending too."""
    workload, events = facts.workload, facts.events
    if workload is None or events is None or params.replicas <= workload.desired_replicas:
        return []
    failing = events.finding(EventReason.FAILED_SCHEDULING)
    if failing is None:
        return [Precondition("new_replicas_schedulable", True, "no pod of the workload is failing to schedule")]
    return [
        Precondition(
            "new_replicas_schedulable", False, f"{failing.describe()}; more replicas would stay Pending as well"
        )
    ]


class ScaleWorkload(Action[ScaleParams]):
    """Set a workload's replicas; never fight an HPA (its bounds move instead)."""

    name = ActionName.SCALE_WORKLOAD
    summary = "Set a Deployment's or StatefulSet's replicas within bounds; moves an owning HPA's min/max instead."
    params_model = ScaleParams
    profile = Profile(reversibility=Reversibility.REVERSIBLE, scope=Scope.WORKLOAD)
    permissions = (
        Permission("apps", "deployments", ("get", "patch")),
        Permission("apps", "statefulsets", ("get", "patch")),
        Permission("autoscaling", "horizontalpodautoscalers", ("get", "list", "patch")),
    )

    def target(self, params: ScaleParams) -> TargetRef:
        return TargetRef(params.kind, params.name, params.namespace)

    def preconditions(self, facts: Facts, params: ScaleParams, limits: ActionLimits) -> list[Precondition]:
        checks = scale_caps(params, limits)
        if facts.hpa is not None and params.replicas == 0:
            checks.append(Precondition("hpa_allows", False, f"HPA {facts.hpa.name} owns the replicas: not to zero"))
        checks.extend(new_replicas_schedulable(facts, params))
        return checks

    def execute(self, ctx: ActionContext, params: ScaleParams) -> Outcome:
        for check in scale_caps(params, ctx.limits):
            if not check.holds:
                raise ActionRefused(self.name, check.detail)
        kind, name, ns = params.kind, params.name, params.namespace
        before: Obj = {}

        def plan() -> Write | None:
            workload = ctx.kube.try_get(kind, name, ns)
            if workload is None:
                raise ActionRefused(self.name, f"{kind} {ns}/{name} does not exist")
            replicas = int((workload.get("spec") or {}).get("replicas", 1))
            before.clear()
            before["replicas"] = replicas
            hpa = find_hpa(ctx.kube, kind, name, ns)
            if hpa is None:
                if replicas == params.replicas:
                    return None
                patch = {"spec": {"replicas": params.replicas}}
                return lambda dry: ctx.kube.patch(
                    kind, name, patch, ns, patch_type=PatchType.MERGE, dry_run=dry, field_manager=ctx.field_manager
                )
            if params.replicas == 0:
                raise ActionRefused(self.name, f"an HPA targets {kind} {ns}/{name}; it cannot be scaled to zero")
            spec = hpa["spec"]
            current = (int(spec.get("minReplicas", 1)), int(spec["maxReplicas"]))
            before["hpa"] = {"name": hpa["metadata"]["name"], "min_replicas": current[0], "max_replicas": current[1]}
            wanted = _wanted_bounds(params, current[0], current[1], replicas)
            if wanted == current:
                return None
            hpa_patch = {"spec": {"minReplicas": wanted[0], "maxReplicas": wanted[1]}}
            return lambda dry: ctx.kube.patch(
                HPA,
                hpa["metadata"]["name"],
                hpa_patch,
                ns,
                patch_type=PatchType.MERGE,
                dry_run=dry,
                field_manager=ctx.field_manager,
            )

        result = dry_run_then_write(plan)
        if result is None:
            return Outcome(changed=False, detail=f"{kind} {ns}/{name} already as wanted", before=before, after=before)
        after: Obj
        if "hpa" in before:
            after = {
                "hpa": {
                    "min_replicas": result["spec"].get("minReplicas"),
                    "max_replicas": result["spec"]["maxReplicas"],
                }
            }
            detail = f"moved HPA {before['hpa']['name']} bounds to {after['hpa']}"
        else:
            after = {"replicas": params.replicas}
            detail = f"scaled {kind} {ns}/{name} from {before['replicas']} to {params.replicas}"
        return Outcome(changed=True, detail=detail, before=before, after=after, api_calls=("PATCH (dry run)", "PATCH"))

    def verify(self, ctx: ActionContext, params: ScaleParams, outcome: Outcome) -> Verification:
        workload = ctx.kube.try_get(params.kind, params.name, params.namespace)
        if workload is None:
            return Verification(ok=False, settled=True, detail="the workload is gone")
        replicas = int((workload.get("spec") or {}).get("replicas", 1))
        hpa = outcome.after.get("hpa") or outcome.before.get("hpa")
        if hpa is None and replicas != params.replicas:
            return Verification(ok=False, settled=True, detail=f"spec.replicas is {replicas}, not {params.replicas}")
        if hpa is not None:
            low, high = int(hpa["min_replicas"]), int(hpa["max_replicas"])
            if not low <= replicas <= high:
                return Verification(ok=False, settled=False, detail=f"the HPA has not moved replicas ({replicas}) yet")
        return verify_rollout(ctx.kube, params.kind, params.name, params.namespace)

    def inverse(self, params: ScaleParams, outcome: Outcome) -> Invocation | None:
        if not outcome.changed:
            return None
        base: Obj = {"kind": params.kind, "namespace": params.namespace, "name": params.name}
        hpa = outcome.before.get("hpa")
        if hpa is not None:
            bounds = {"min_replicas": hpa["min_replicas"], "max_replicas": hpa["max_replicas"]}
            return Invocation(self.name, {**base, "replicas": max(1, outcome.before["replicas"]), "hpa_bounds": bounds})
        return Invocation(self.name, {**base, "replicas": outcome.before["replicas"]})

    def risk_hints(self, params: ScaleParams) -> RiskHints:
        return RiskHints(
            Disruption.REPLICA_CHANGE,
            "scales",
            target_replicas=params.replicas,
            respects_pdb=False,
            reads_hpa=True,
            reads_events=True,
        )
