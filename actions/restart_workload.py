"""restart_workload: a rolling restart through the restartedAt annotation on the pod template."""

from __future__ import annotations

from pydantic import Field

from actions.base import (
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
from actions.facts import Facts
from actions.guarded_write import Write, dry_run_then_write
from actions.kube import PatchType
from actions.workloads import (
    RESTART_TOKEN,
    WorkloadParams,
    restart_patch,
    template_annotation,
    template_takes_effect,
    verify_rollout,
)

TOKEN_PATTERN = r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"  # noqa: S105 - a regex, not a secret


class RestartParams(WorkloadParams):
    """Which workload to restart, and the token that makes the restart happen once."""

    restart_token: str = Field(pattern=TOKEN_PATTERN, min_length=1, max_length=63)
    """Names this restart (the incident id serves): recorded on the pod template, so running again
    with the same token changes nothing, while a new token restarts again."""


class RestartWorkload(Action[RestartParams]):
    """Roll every pod of the workload, as `kubectl rollout restart` does."""

    name = ActionName.RESTART_WORKLOAD
    summary = "Rolling restart of a Deployment, StatefulSet or DaemonSet (restartedAt on the pod template)."
    params_model = RestartParams
    profile = Profile(reversibility=Reversibility.NONE_NEEDED, scope=Scope.WORKLOAD)
    owner_may_revert = False
    permissions = (
        Permission("apps", "deployments", ("get", "patch")),
        Permission("apps", "statefulsets", ("get", "patch")),
        Permission("apps", "daemonsets", ("get", "patch")),
    )

    def target(self, params: RestartParams) -> TargetRef:
        return TargetRef(params.kind.value, params.name, params.namespace)

    def preconditions(self, facts: Facts, params: RestartParams, limits: ActionLimits) -> list[Precondition]:
        return [template_takes_effect(facts.workload)]

    def execute(self, ctx: ActionContext, params: RestartParams) -> Outcome:
        kind, name, ns = params.kind.value, params.name, params.namespace
        seen: dict[str, str | None] = {}

        def plan() -> Write | None:
            current = ctx.kube.try_get(kind, name, ns)
            if current is None:
                raise ActionRefused(self.name, f"{kind} {ns}/{name} does not exist")
            seen["token"] = template_annotation(current, RESTART_TOKEN)
            if seen["token"] == params.restart_token:
                return None
            patch = restart_patch(params.restart_token, ctx.clock().strftime("%Y-%m-%dT%H:%M:%SZ"))
            return lambda dry: ctx.kube.patch(
                kind, name, patch, ns, patch_type=PatchType.MERGE, dry_run=dry, field_manager=ctx.field_manager
            )

        result = dry_run_then_write(plan)
        before = {"restart_token": seen.get("token")}
        if result is None:
            detail = f"{kind} {ns}/{name} was already restarted with token {params.restart_token}"
            return Outcome(changed=False, detail=detail, before=before, after=before)
        return Outcome(
            changed=True,
            detail=f"restarted {kind} {ns}/{name}",
            before=before,
            after={"restart_token": params.restart_token},
            api_calls=(f"PATCH {kind} {ns}/{name} (dry run)", f"PATCH {kind} {ns}/{name}"),
        )

    def verify(self, ctx: ActionContext, params: RestartParams, outcome: Outcome) -> Verification:
        obj = ctx.kube.try_get(params.kind.value, params.name, params.namespace)
        if obj is None or template_annotation(obj, RESTART_TOKEN) != params.restart_token:
            return Verification(ok=False, settled=True, detail="the restart annotation is not on the pod template")
        return verify_rollout(ctx.kube, params.kind.value, params.name, params.namespace)

    def inverse(self, params: RestartParams, outcome: Outcome) -> Invocation | None:
        return None

    def risk_hints(self, params: RestartParams) -> RiskHints:
        return RiskHints(Disruption.ROLLING_REPLACEMENT, "restarts", reads_events=True, restarts_as_is=True)
