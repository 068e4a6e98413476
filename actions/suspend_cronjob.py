"""suspend_cronjob: set or clear a CronJob's spec.suspend."""

from __future__ import annotations

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
from actions.guarded_write import Write, dry_run_then_write
from actions.kube import PatchType

KIND = "CronJob"


class SuspendCronJobParams(NamespacedParams):
    """Which CronJob, and whether to suspend or resume it."""

    suspend: bool = True
    """True stops new Jobs from being scheduled; False resumes the schedule."""


class SuspendCronJob(Action[SuspendCronJobParams]):
    """Stop (or resume) a CronJob's schedule; running Jobs are left alone."""

    name = ActionName.SUSPEND_CRONJOB
    summary = "Set or clear a CronJob's spec.suspend."
    params_model = SuspendCronJobParams
    profile = Profile(reversibility=Reversibility.REVERSIBLE, scope=Scope.WORKLOAD)
    permissions = (Permission("batch", "cronjobs", ("get", "patch")),)

    def target(self, params: SuspendCronJobParams) -> TargetRef:
        return TargetRef(KIND, params.name, params.namespace)

    def preconditions(self, facts: Facts, params: SuspendCronJobParams, limits: ActionLimits) -> list[Precondition]:
        return []  # the CronJob existing (judged for every action) is all it needs

    def execute(self, ctx: ActionContext, params: SuspendCronJobParams) -> Outcome:
        ns, name = params.namespace, params.name
        state: dict[str, bool] = {}

        def plan() -> Write | None:
            cron = ctx.kube.try_get(KIND, name, ns)
            if cron is None:
                raise ActionRefused(self.name, f"CronJob {ns}/{name} does not exist")
            state["suspend"] = bool((cron.get("spec") or {}).get("suspend", False))
            if state["suspend"] == params.suspend:
                return None
            patch = {"spec": {"suspend": params.suspend}}
            return lambda dry: ctx.kube.patch(
                KIND, name, patch, ns, patch_type=PatchType.MERGE, dry_run=dry, field_manager=ctx.field_manager
            )

        result = dry_run_then_write(plan)
        verb = "suspended" if params.suspend else "resumed"
        before, after = {"suspend": state["suspend"]}, {"suspend": params.suspend}
        if result is None:
            return Outcome(False, f"CronJob {ns}/{name} is already {verb}", before, after)
        return Outcome(True, f"{verb} CronJob {ns}/{name}", before, after, ("PATCH (dry run)", "PATCH"))

    def verify(self, ctx: ActionContext, params: SuspendCronJobParams, outcome: Outcome) -> Verification:
        cron = ctx.kube.try_get(KIND, params.name, params.namespace)
        if cron is None:
            return Verification(ok=False, settled=True, detail="the CronJob is gone")
        actual = bool((cron.get("spec") or {}).get("suspend", False))
        active = len((cron.get("status") or {}).get("active") or [])
        return Verification(actual == params.suspend, True, f"spec.suspend={actual}; {active} Job(s) still active")

    def inverse(self, params: SuspendCronJobParams, outcome: Outcome) -> Invocation | None:
        if not outcome.changed:
            return None
        return Invocation(
            self.name, {"namespace": params.namespace, "name": params.name, "suspend": not params.suspend}
        )

    def risk_hints(self, params: SuspendCronJobParams) -> RiskHints:
        return RiskHints(Disruption.SCHEDULE_ONLY, "suspends" if params.suspend else "resumes")
