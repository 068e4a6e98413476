"""A deterministic generator of months of decision history with known truth, and injectable drift.

Tests, the benchmark and the demo use it to check the reports against facts set by hand: with a
seed, the same history comes out every time. The world it models (every rate is a field of
`World`):

- incidents arrive as a Poisson process (`per_day`); each names an alert from `ALERTS`, which
  either maps to an action or fits none (an escalation with the planner's reason);
- the risk score of a proposal is drawn around its action's typical score; the policy routes it
  with `execute_max` and `deny_min`;
- the chance an executed action ends badly is `bad_base + bad_slope * risk**2` (the truth the
  reliability table should recover); a bad end is a failure, an Undo or someone else's change;
- people approve with a chance that falls with risk, after a log-normal delay (median
  `approve_median_seconds`), or reject, or let it expire;
- nothing-ran incidents resolve by themselves with chance `self_resolve`;
- the first `shadow_days` run in shadow mode: nothing runs, people change the object by hand
  with chance `people_act_chance`.

A `Drift` switches one part of that world at `drift_day`:
RUBBER_STAMPING (approvals in seconds, nearly all approved), AUTO_FAILURES (auto-executed
actions fail `auto_failure_factor` times as often), WIDENED_BAND (execute_max raised to
`widened_execute_max`; failures follow the risk it lets through), PLANNER_GAMING (one planner's
claims are disputed far more often).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from risk.track import Call, Ending, HumanCall, PastDecision

START = datetime(2026, 1, 5, tzinfo=UTC)


class Drift(StrEnum):
    """What changes at the drift day."""

    NONE = "none"
    RUBBER_STAMPING = "rubber_stamping"
    AUTO_FAILURES = "auto_failures"
    WIDENED_BAND = "widened_band"
    PLANNER_GAMING = "planner_gaming"


ALERTS: tuple[tuple[str, str | None, float, float], ...] = (
    # alertname, action (None: no action fits), weight, typical risk
    ("KubeDeploymentRolloutStuck", "rollback_workload", 18, 0.30),
    ("KubePodCrashLooping", "rollback_workload", 10, 0.32),
    ("KubePodCrashLooping", "restart_workload", 8, 0.22),
    ("KubeContainerOOMKilled", "set_resources", 10, 0.35),
    ("ConfigMapChangeBroke", "restore_configmap", 7, 0.34),
    ("KubeServiceWithoutEndpoints", "restore_service", 5, 0.30),
    ("KubeHpaMaxedOut", "scale_workload", 8, 0.20),
    ("KubeNodeNotReady", "drain_node", 5, 0.55),
    ("KubePodNotReady", "evict_pod", 5, 0.25),
    ("KubeCronJobRunaway", "suspend_cronjob", 3, 0.15),
    ("KubePersistentVolumeFillingUp", None, 7, 0.0),
    ("CPUThrottlingHigh", None, 5, 0.0),
    ("KubePodStuckTerminating", None, 3, 0.0),
    ("KubeClientCertificateExpiration", None, 2, 0.0),
)
APPROVERS = ("oncall-ana", "oncall-bo", "oncall-cy", "oncall-dee", "oncall-eli")
NAMESPACES = ("shop", "payments", "search", "batch")


@dataclass(frozen=True)
class World:
    """The rates of the generated world (see the module docstring)."""

    days: int = 90
    per_day: float = 20.0
    drift: Drift = Drift.NONE
    drift_day: int = 40
    execute_max: float = 0.3
    deny_min: float = 0.8
    bad_base: float = 0.04
    bad_slope: float = 0.5
    approve_median_seconds: float = 150.0
    approve_sigma: float = 0.9
    expire_chance: float = 0.04
    self_resolve: float = 0.25
    dispute_chance: float = 0.04
    auto_failure_factor: float = 3.0
    widened_execute_max: float = 0.5
    stamp_median_seconds: float = 6.0
    gaming_dispute_chance: float = 0.25
    llm_share: float = 0.3
    shadow_days: int = 0
    """The first days run in shadow mode: decisions recorded, nothing runs, people fix some by hand."""
    people_act_chance: float = 0.6
    start: datetime = field(default=START)


def generate(world: World, *, seed: int) -> list[PastDecision]:
    """`world.days` days of decisions, oldest first; the same seed gives the same history."""
    rng = random.Random(seed)  # noqa: S311 - reproducible simulation, not secrecy
    weights = [w for _, _, w, _ in ALERTS]
    out: list[PastDecision] = []
    for day in range(world.days):
        for _ in range(_poisson(rng, world.per_day)):
            at = world.start + timedelta(days=day, seconds=rng.uniform(0, 86400))
            alert, action, _, typical = rng.choices(ALERTS, weights=weights)[0]
            drifted = world.drift is not Drift.NONE and day >= world.drift_day
            base = PastDecision(
                at=at,
                incident_id=f"inc-{seed}-{len(out)}",
                alert_name=alert,
                namespace=rng.choice(NAMESPACES),
                verdict="escalate",
                ending=Ending.ESCALATED,
                planner="llm" if rng.random() < world.llm_share else "runbook",
            )
            if action is None:
                out.append(_escalation(rng, world, base))
            else:
                out.append(_proposal(rng, world, base, action=action, typical=typical, drifted=drifted))
    return sorted(out, key=lambda d: d.at)


def _poisson(rng: random.Random, mean: float) -> int:
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def _resolved_after(rng: random.Random, world: World) -> tuple[float, bool]:
    """(seconds to resolution, whether that counts as resolving by itself)."""
    if rng.random() < world.self_resolve:
        return rng.uniform(120, 840), True
    return rng.uniform(3600, 6 * 3600), False


def _escalation(rng: random.Random, world: World, base: PastDecision) -> PastDecision:
    seconds, itself = _resolved_after(rng, world)
    return replace(
        base,
        planner="",  # the store keeps no proposal, so no planner, for an escalation
        ending=Ending.SELF_RESOLVED if itself else Ending.ESCALATED,
        escalation_reason=f"no runbook rule matches alert {base.alert_name}",
        resolved_after_seconds=seconds,
    )


def _proposal(
    rng: random.Random, world: World, base: PastDecision, *, action: str, typical: float, drifted: bool
) -> PastDecision:
    risk = min(1.0, max(0.0, rng.gauss(typical, 0.13)))
    components = {
        name: round(min(1.0, max(0.0, rng.gauss(risk, 0.1))), 4)
        for name in ("blast_radius", "reversibility", "state_validity", "operational_pressure")
    }
    execute_max = world.widened_execute_max if drifted and world.drift is Drift.WIDENED_BAND else world.execute_max
    verdict = "execute" if risk <= execute_max else "deny" if risk > world.deny_min else "approve"
    gaming = drifted and world.drift is Drift.PLANNER_GAMING and base.planner == "llm"
    claims = rng.randint(2, 4) if base.planner == "llm" else rng.randint(0, 2)
    chance = world.gaming_dispute_chance if gaming else world.dispute_chance
    disputed = sum(1 for _ in range(claims) if rng.random() < chance)
    decision = replace(
        base,
        action=action,
        verdict=verdict,
        risk=round(risk, 4),
        components=components,
        execute_max=execute_max,
        claims_made=claims,
        claims_disputed=disputed,
    )
    if (decision.at - world.start).days < world.shadow_days:
        acted = rng.random() < world.people_act_chance
        return replace(_idle(rng, world, decision, Ending.SHADOW), shadow=True, people_acted=acted)
    if verdict == "deny":
        return _idle(rng, world, decision, Ending.DENIED)
    if verdict == "approve":
        human = _human(rng, world, risk, stamping=drifted and world.drift is Drift.RUBBER_STAMPING)
        decision = replace(decision, human=human)
        if human.call is not Call.APPROVED:
            return _idle(rng, world, decision, Ending.REJECTED if human.call is Call.REJECTED else Ending.EXPIRED)
    bad_chance = world.bad_base + world.bad_slope * risk * risk
    if verdict == "execute" and drifted and world.drift is Drift.AUTO_FAILURES:
        bad_chance = min(1.0, bad_chance * world.auto_failure_factor)
    ending = Ending.VERIFIED
    if rng.random() < bad_chance:
        bad = (Ending.FAILED, Ending.UNDONE, Ending.OVERRIDDEN, Ending.REVERTED_BY_OWNER)
        ending = rng.choices(bad, weights=(4, 2, 1, 1))[0]
    return replace(decision, ending=ending, resolved_after_seconds=rng.uniform(900, 3600))


def _idle(rng: random.Random, world: World, decision: PastDecision, ending: Ending) -> PastDecision:
    seconds, itself = _resolved_after(rng, world)
    return replace(decision, ending=Ending.SELF_RESOLVED if itself else ending, resolved_after_seconds=seconds)


def _human(rng: random.Random, world: World, risk: float, *, stamping: bool) -> HumanCall:
    if rng.random() < world.expire_chance and not stamping:
        return HumanCall(Call.EXPIRED, seconds=4 * 3600.0)
    approve = 0.98 if stamping else max(0.1, 0.95 - 0.4 * risk)
    median_seconds = world.stamp_median_seconds if stamping else world.approve_median_seconds
    sigma = 0.5 if stamping else world.approve_sigma
    seconds = round(math.exp(rng.gauss(math.log(median_seconds), sigma)), 1)
    who = rng.choice(APPROVERS)
    call = Call.APPROVED if rng.random() < approve else Call.REJECTED
    return HumanCall(call, by=(who,), seconds=seconds)
