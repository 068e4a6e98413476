"""set_resources: change one container's CPU/memory requests and limits within a bounded factor."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from pydantic import Field, model_validator

from actions.base import (
    DNS1123_LABEL,
    Action,
    ActionContext,
    ActionLimits,
    ActionName,
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
from actions.facts import EventReason, Facts
from actions.guarded_write import Write, dry_run_then_write
from actions.quantity import QUANTITY_PATTERN, parse_quantity
from actions.workloads import WorkloadParams, template_takes_effect, verify_rollout

Obj = dict[str, Any]
FIELDS = {
    "cpu_request": ("requests", "cpu"),
    "cpu_limit": ("limits", "cpu"),
    "memory_request": ("requests", "memory"),
    "memory_limit": ("limits", "memory"),
}


class SetResourcesParams(WorkloadParams):
    """Which container to resize and the new values (unset ones stay as they are)."""

    container: str = Field(pattern=DNS1123_LABEL, max_length=63)
    """Name of the container in the workload's pod template."""
    cpu_request: str | None = Field(default=None, pattern=QUANTITY_PATTERN, max_length=32)
    """New CPU request, a Kubernetes quantity such as '250m'."""
    cpu_limit: str | None = Field(default=None, pattern=QUANTITY_PATTERN, max_length=32)
    """New CPU limit, a Kubernetes quantity such as '1'."""
    memory_request: str | None = Field(default=None, pattern=QUANTITY_PATTERN, max_length=32)
    """New memory request, a Kubernetes quantity such as '256Mi'."""
    memory_limit: str | None = Field(default=None, pattern=QUANTITY_PATTERN, max_length=32)
    """New memory limit, a Kubernetes quantity such as '512Mi'."""

    @model_validator(mode="after")
    def _something_to_set(self) -> SetResourcesParams:
        if all(getattr(self, key) is None for key in FIELDS):
            raise ValueError("set at least one of cpu_request, cpu_limit, memory_request, memory_limit")
        return self


def _resources(workload: Obj, container: str) -> Obj:
    for c in ((workload.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []:
        if c.get("name") == container:
            return copy.deepcopy(c.get("resources") or {})
    raise ActionRefused(ActionName.SET_RESOURCES, f"no container {container!r} in the pod template")


def _current_values(resources: Obj) -> dict[str, str | None]:
    return {key: (resources.get(section) or {}).get(res) for key, (section, res) in FIELDS.items()}


def _grows(current: dict[str, str | None], wanted: dict[str, str], key: str) -> bool | None:
    """Whether `key` goes up (True), down (False) or is not changed or not comparable (None)."""
    old, new = current.get(key), wanted.get(key)
    if new is None or old is None or parse_quantity(new) == parse_quantity(old):
        return None
    return parse_quantity(new) > parse_quantity(old)


def event_checks(facts: Facts, current: dict[str, str | None], wanted: dict[str, str]) -> list[Precondition]:
    """What the Events about the workload's pods say of this change: larger requests cannot help
    pods the scheduler already finds no node for, and a lower memory limit cannot help containers
    the OOM killer already ends."""
    events = facts.events
    if events is None:
        return []
    checks = []
    unschedulable = events.finding(EventReason.FAILED_SCHEDULING)
    if unschedulable is not None and any(_grows(current, wanted, k) for k in ("cpu_request", "memory_request")):
        detail = f"{unschedulable.describe()}; larger requests make the pods harder to place"
        checks.append(Precondition("requests_schedulable", False, detail))
    oom = events.finding(EventReason.OOM_KILLING)
    if oom is not None and any(_grows(current, wanted, k) is False for k in ("memory_limit", "memory_request")):
        detail = f"{oom.describe()}; a lower memory limit or request makes that worse"
        checks.append(Precondition("memory_not_lowered_under_oom", False, detail))
    return checks


def check_bounds(current: dict[str, str | None], wanted: dict[str, str], factor_up: float, factor_down: float) -> None:
    """Refuse a change beyond the operator's factor, one with no current value, or limits below requests."""
    for key, value in wanted.items():
        old = current.get(key)
        if old is None:
            raise ActionRefused(ActionName.SET_RESOURCES, f"{key} has no current value to bound the change against")
        base, new = parse_quantity(old), parse_quantity(value)
        if base == 0 or not Decimal(str(factor_down)) * base <= new <= Decimal(str(factor_up)) * base:
            raise ActionRefused(
                ActionName.SET_RESOURCES, f"{key} {old} -> {value} is beyond x{factor_down}..x{factor_up}"
            )
    merged = {**current, **wanted}
    for res in ("cpu", "memory"):
        request, limit = merged[f"{res}_request"], merged[f"{res}_limit"]
        if request is not None and limit is not None and parse_quantity(limit) < parse_quantity(request):
            raise ActionRefused(ActionName.SET_RESOURCES, f"{res} limit {limit} would be below its request {request}")


class SetResources(Action[SetResourcesParams]):
    """Resize one container's requests and limits, never by more than the operator's factor."""

    name = ActionName.SET_RESOURCES
    summary = "Change one container's CPU/memory requests and limits within a bounded factor (limits >= requests)."
    params_model = SetResourcesParams
    profile = Profile(reversibility=Reversibility.REVERSIBLE, scope=Scope.WORKLOAD)
    permissions = (
        Permission("apps", "deployments", ("get", "update")),
        Permission("apps", "statefulsets", ("get", "update")),
        Permission("apps", "daemonsets", ("get", "update")),
    )

    def target(self, params: SetResourcesParams) -> TargetRef:
        return TargetRef(params.kind.value, params.name, params.namespace)

    def _wanted(self, params: SetResourcesParams) -> dict[str, str]:
        return {key: value for key in FIELDS if (value := getattr(params, key)) is not None}

    def preconditions(self, facts: Facts, params: SetResourcesParams, limits: ActionLimits) -> list[Precondition]:
        container = facts.workload.container(params.container) if facts.workload is not None else None
        where = f"container {params.container!r}"
        if container is None:
            return [Precondition("container_exists", False, f"{where} is not in the pod template")]
        checks = [Precondition("container_exists", True, f"{where} is in the pod template")]
        checks.append(template_takes_effect(facts.workload))
        try:
            check_bounds(
                container.values(), self._wanted(params), limits.resource_factor_up, limits.resource_factor_down
            )
            checks.append(Precondition("within_bounds", True, "within the operator's factor"))
        except ActionRefused as refused:
            checks.append(Precondition("within_bounds", False, refused.reason))
        checks.extend(event_checks(facts, container.values(), self._wanted(params)))
        return checks

    def execute(self, ctx: ActionContext, params: SetResourcesParams) -> Outcome:
        kind, ns, name = params.kind.value, params.namespace, params.name
        wanted = self._wanted(params)
        state: Obj = {}

        def plan() -> Write | None:
            workload = ctx.kube.try_get(kind, name, ns)
            if workload is None:
                raise ActionRefused(self.name, f"{kind} {ns}/{name} does not exist")
            current = _current_values(_resources(workload, params.container))
            state["current"] = current
            if all(
                current[k] is not None and parse_quantity(current[k] or "0") == parse_quantity(v)
                for k, v in wanted.items()
            ):
                return None
            check_bounds(current, wanted, ctx.limits.resource_factor_up, ctx.limits.resource_factor_down)
            body = copy.deepcopy(workload)
            for c in body["spec"]["template"]["spec"]["containers"]:
                if c.get("name") == params.container:
                    resources = c.setdefault("resources", {})
                    for key, value in wanted.items():
                        section, res = FIELDS[key]
                        resources.setdefault(section, {})[res] = value
            return lambda dry: ctx.kube.replace(kind, name, body, ns, dry_run=dry)

        result = dry_run_then_write(plan)
        before = {key: state["current"][key] for key in wanted}
        if result is None:
            return Outcome(False, f"container {params.container} already has these values", before, wanted)
        detail = f"set {', '.join(f'{k}={v}' for k, v in wanted.items())} on {kind} {ns}/{name} {params.container}"
        return Outcome(True, detail, before, dict(wanted), (f"PUT {kind} (dry run)", f"PUT {kind}"))

    def verify(self, ctx: ActionContext, params: SetResourcesParams, outcome: Outcome) -> Verification:
        workload = ctx.kube.try_get(params.kind.value, params.name, params.namespace)
        if workload is None:
            return Verification(ok=False, settled=True, detail="the workload is gone")
        current = _current_values(_resources(workload, params.container))
        for key, value in self._wanted(params).items():
            if current[key] is None or parse_quantity(current[key] or "0") != parse_quantity(value):
                return Verification(ok=False, settled=True, detail=f"{key} is {current[key]}, not {value}")
        return verify_rollout(ctx.kube, params.kind.value, params.name, params.namespace)

    def inverse(self, params: SetResourcesParams, outcome: Outcome) -> Invocation | None:
        if not outcome.changed:
            return None
        previous = {key: value for key, value in outcome.before.items() if value is not None}
        base = {"kind": params.kind.value, "namespace": params.namespace, "name": params.name}
        return Invocation(self.name, {**base, "container": params.container, **previous})

    def risk_hints(self, params: SetResourcesParams) -> RiskHints:
        return RiskHints(Disruption.ROLLING_REPLACEMENT, "recreates", reads_hpa=True, reads_events=True)
