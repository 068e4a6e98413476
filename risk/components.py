"""The four component scorers: pure functions from facts to a score in [0, 1] with reasons.

Each scorer looks at the facts that matter for its question, collects candidate scores
with a sentence each, and takes the largest: the component is as bad as its worst finding.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import assert_never

from actions.base import ActionName, ActionParams, Disruption, Profile, Reversibility, RiskHints
from actions.preconditions import Judgement
from actions.registry import get_action
from risk.facts import EventReason, Facts, Tier
from risk.model import ComponentScore
from risk.settings import RiskSettings

DEFAULT_RISK = RiskSettings()

REVERSIBILITY_BASE: dict[Reversibility, float] = {
    Reversibility.NONE_NEEDED: 0.05,
    Reversibility.REVERSIBLE: 0.15,
    Reversibility.PARTIALLY_REVERSIBLE: 0.35,
    Reversibility.IRREVERSIBLE: 0.8,
}
"""Where reversibility starts, by the action's static class."""

TIER_FACTOR: dict[Tier, float] = {Tier.CRITICAL: 1.3, Tier.STANDARD: 1.0, Tier.LOW: 0.7}
"""Blast radius is multiplied by this for the namespace's tier."""

OWNER_REVERSIBILITY = 0.4
"""Reversibility when another controller (GitOps, Helm, an operator) may re-apply the object."""

ROLLING_SHARE = 0.25
"""Share of replicas a rolling update replaces at once (the Kubernetes default maxUnavailable)."""


class _Findings:
    """Candidate scores with reasons; the component is the largest, bounded to [0, 1]."""

    def __init__(self) -> None:
        self.items: list[tuple[float, str]] = []

    def add(self, score: float, reason: str) -> None:
        self.items.append((min(1.0, max(0.0, score)), reason))

    def result(self) -> ComponentScore:
        if not self.items:
            return ComponentScore(0.0, ())
        return ComponentScore(max(s for s, _ in self.items), tuple(r for _, r in self.items))


def hints_for(action: ActionName, params: ActionParams) -> RiskHints:
    """What the action declares about this invocation for the scorers."""
    return get_action(action).risk_hints(params)


def blast_radius(
    facts: Facts, profile: Profile, params: ActionParams, *, action: ActionName, settings: RiskSettings = DEFAULT_RISK
) -> ComponentScore:
    """How much serving capacity the action disrupts at once, scaled by the namespace tier."""
    found = _Findings()
    hints = hints_for(action, params)
    match hints.disruption:
        case Disruption.NODE_DRAIN:
            _blast_node(facts, hints, found)
        case Disruption.POD_EVICTION:
            _blast_pod(facts, found)
        case Disruption.REPLICA_CHANGE:
            _blast_scale(facts, hints, found)
        case Disruption.ROLLING_REPLACEMENT:
            _blast_rollout(facts, hints, found)
        case Disruption.CONSUMER_RESTART | Disruption.TRAFFIC_REROUTE:
            _blast_consumers(facts, hints, found)
        case Disruption.SCHEDULE_ONLY:
            found.add(0.05, f"touches one {facts.target.kind}")
        case _:
            assert_never(hints.disruption)
    if facts.pdb is not None and facts.pdb.min_disruptions_allowed == 0 and hints.respects_pdb:
        found.add(0.8, f"a PodDisruptionBudget allows 0 disruptions ({facts.pdb.count} PDBs apply)")
    base = found.result()
    tier = facts.environment.tier
    if tier is Tier.STANDARD:
        return base
    factor = TIER_FACTOR[tier]
    return ComponentScore(min(1.0, base.score * factor), (*base.reasons, f"namespace tier {tier.value}: x{factor:.1f}"))


def _blast_consumers(facts: Facts, hints: RiskHints, found: _Findings) -> None:
    c = facts.consumers
    if c is None:
        found.add(0.05, f"touches one {facts.target.kind}")
        return
    found.add(
        c.workloads / (c.workloads + 3) + 0.1,
        f"{hints.verb} {_count(c.workloads, 'workload')} ({c.ready_replicas} ready replicas)",
    )


def _blast_node(facts: Facts, hints: RiskHints, found: _Findings) -> None:
    node = facts.node
    if node is None:
        found.add(0.5, "node facts unknown")
        return
    if not hints.evicts_pods:
        found.add(0.1, f"{hints.verb} the node; its {node.pod_count} pods keep running")
        return
    pods = node.pod_count / (node.pod_count + 10)
    workloads = node.workload_count / (node.workload_count + 4)
    found.add(max(pods, workloads), f"node runs {node.pod_count} pods of {node.workload_count} workloads")


def _blast_pod(facts: Facts, found: _Findings) -> None:
    owner = facts.workload
    if owner is None:
        found.add(0.5, "pod has no running controller: nothing recreates it")
        return
    ready = owner.ready_replicas
    share = 1.0 if ready <= 1 else 1 / ready
    found.add(0.8 * share, f"evicts 1 of {ready} ready replicas of {owner.kind} {owner.name}")


def _blast_scale(facts: Facts, hints: RiskHints, found: _Findings) -> None:
    wanted, w = hints.target_replicas, facts.workload
    if w is None or wanted is None:
        found.add(0.3, "replica change of unknown size")
        return
    if facts.hpa is not None:
        found.add(0.1, f"HPA {facts.hpa.name} owns the replica count: its bounds move instead")
    if wanted >= w.desired_replicas:
        found.add(0.05, f"scales up from {w.desired_replicas} to {wanted} replicas")
        return
    removed = w.desired_replicas - wanted
    found.add(0.9 * removed / max(1, w.desired_replicas), f"removes {removed} of {w.desired_replicas} replicas")


def _blast_rollout(facts: Facts, hints: RiskHints, found: _Findings) -> None:
    w = facts.workload
    if w is None:
        found.add(0.5, "workload facts unknown")
        return
    if w.ready_replicas == 0:
        found.add(0.1, f"no ready replicas of {w.desired_replicas}: nothing serving to disrupt")
        return
    at_once = max(1, math.ceil(w.ready_replicas * ROLLING_SHARE))
    found.add(
        0.8 * at_once / w.ready_replicas, f"{hints.verb} {at_once} of {w.ready_replicas} ready replicas at a time"
    )


def reversibility(
    facts: Facts, profile: Profile, params: ActionParams, *, action: ActionName, settings: RiskSettings = DEFAULT_RISK
) -> ComponentScore:
    """How hard the action is to take back: its class, raised by local data and missing owners."""
    found = _Findings()
    hints = hints_for(action, params)
    if hints.reversibility is not None:
        found.add(REVERSIBILITY_BASE[hints.reversibility], f"{hints.verb} only: undone by the opposite call")
    else:
        found.add(REVERSIBILITY_BASE[profile.reversibility], f"action class {profile.reversibility.value}")
    owner = facts.target.owner
    if owner is not None and get_action(action).owner_may_revert:
        found.add(
            OWNER_REVERSIBILITY, f"{owner.describe()} manages the target ({owner.source}): it may revert the change"
        )
    pod = facts.pod
    if hints.disruption is Disruption.POD_EVICTION and pod is not None:
        if facts.target.owner_kind is None:
            found.add(0.95, "pod has no controller: eviction deletes it for good")
        if pod.has_empty_dir:
            found.add(0.85, "pod has emptyDir data that eviction loses")
        elif pod.has_local_storage:
            found.add(0.7, "pod has hostPath data that stays behind on the node")
    node = facts.node
    if hints.disruption is Disruption.NODE_DRAIN and node is not None and hints.evicts_pods:
        if node.local_storage_pods:
            found.add(
                min(0.9, 0.5 + 0.05 * node.local_storage_pods),
                f"{node.local_storage_pods} pods on the node hold local data that eviction loses",
            )
        if node.unowned_pods:
            found.add(0.9, f"{node.unowned_pods} pods on the node have no controller: eviction deletes them")
    return found.result()


def state_validity(
    facts: Facts,
    profile: Profile,
    params: ActionParams,
    *,
    action: ActionName,
    settings: RiskSettings = DEFAULT_RISK,
    now: datetime | None = None,
    judgement: Judgement,
) -> ComponentScore:
    """Whether the action's preconditions hold now, as the probes read them.

    Derived from the action's own judgement: each failed precondition scores 1.0 with its reason
    (and the policy vetoes it). What only makes acting less safe (a rollout in flight, an alert
    that stopped firing, stale facts) raises the score without vetoing."""
    found = _Findings()
    for reason in judgement.reasons():
        found.add(1.0, reason)
    hints = hints_for(action, params)
    _validity_workload(facts, hints, found)
    _validity_history(facts, hints, found)
    _validity_events(facts, hints, found)
    pdb_blocks = facts.pdb is not None and facts.pdb.min_disruptions_allowed == 0
    if hints.disruption is Disruption.POD_EVICTION and facts.pod is not None and pdb_blocks:
        found.add(0.6, "a PodDisruptionBudget allows 0 disruptions: the eviction will be refused")
    firing = facts.environment.alert_firing
    if firing is False:
        found.add(0.6, "the alert no longer fires")
    elif firing is None:
        found.add(0.1, "cannot tell whether the alert still fires")
    age = facts.age_seconds(now or facts.probed_at)
    limit = settings.max_fact_age_seconds
    if age > limit:
        found.add(0.5 + 0.5 * min(1.0, (age - limit) / limit), f"facts are {age:.0f} s old (limit {limit:.0f} s)")
    return found.result()


def _validity_workload(facts: Facts, hints: RiskHints, found: _Findings) -> None:
    w = facts.workload
    if w is None or facts.target.kind == "Pod":
        return
    if w.observed_generation < w.generation:
        found.add(0.5, f"controller has not observed generation {w.generation} (last saw {w.observed_generation})")
    if w.rollout_in_flight and not hints.undoes_recent_change:
        found.add(0.45, f"rollout in flight: {w.updated_replicas} of {w.desired_replicas} replicas updated")


EVENT_VALIDITY: dict[EventReason, tuple[float, str]] = {
    EventReason.FAILED_SCHEDULING: (0.5, "the replacement pods would wait for a node as well"),
    EventReason.OOM_KILLING: (0.5, "a restart keeps the same memory limit (set_resources can raise it)"),
    EventReason.BACK_OFF: (0.3, "a restart with the same template may crash the same way"),
}
"""For an action that replaces pods as they are (restart): how much each finding lowers the odds
that it helps, and why. Not a veto: a restart does clear a leak or a wedged process for a while."""


def _validity_events(facts: Facts, hints: RiskHints, found: _Findings) -> None:
    if facts.events is None or not hints.restarts_as_is:
        return
    for finding in facts.events.findings:
        score, why = EVENT_VALIDITY[finding.reason]
        found.add(score, f"Events: {finding.describe()}; {why}")


def _validity_history(facts: Facts, hints: RiskHints, found: _Findings) -> None:
    rev, wanted = facts.revisions, hints.to_revision
    if rev is None or wanted is None:
        return
    if str(wanted) not in rev.revisions_before_incident:
        found.add(0.8, f"revision {wanted} is not one from before the incident")


def operational_pressure(
    facts: Facts,
    profile: Profile,
    params: ActionParams,
    *,
    action: ActionName,
    settings: RiskSettings = DEFAULT_RISK,
    now: datetime | None = None,
) -> ComponentScore:
    """How unstable the surroundings are: incidents, the agent's recent actions, fresh changes, off-hours."""
    found = _Findings()
    at = now or facts.probed_at
    env, act = facts.environment, facts.activity
    if env.open_incidents > 1:
        found.add(min(0.6, 0.1 * (env.open_incidents - 1)), f"{env.open_incidents} open incidents")
    if act.on_target:
        found.add(
            min(1.0, 0.3 * len(act.on_target)),
            f"acted on this target {_count(len(act.on_target), 'time')} in the last hour",
        )
    last = act.last_on_target
    if last is not None and (at - last).total_seconds() < 900:
        found.add(0.7, f"acted on this target {max(0, int((at - last).total_seconds() // 60))} minutes ago")
    if act.in_namespace:
        found.add(
            min(0.5, 0.05 * len(act.in_namespace)),
            f"{_count(len(act.in_namespace), 'action')} in this namespace in the last hour",
        )
    if act.overall:
        found.add(
            min(0.4, 0.01 * len(act.overall)), f"{_count(len(act.overall), 'action')} cluster-wide in the last hour"
        )
    w = facts.workload
    recent_change_is_premise = hints_for(action, params).undoes_recent_change
    if w is not None and w.last_change_at is not None and not recent_change_is_premise:
        since = (at - w.last_change_at).total_seconds()
        if 0 <= since < settings.recent_change_seconds:
            found.add(0.35, f"target changed {int(since // 60)} minutes ago")
    base = found.result()
    if _off_hours(at, settings):
        extra = settings.off_hours_pressure
        return ComponentScore(
            min(1.0, base.score + extra), (*base.reasons, f"off-hours ({at:%H:%M} UTC): +{extra:.2f}")
        )
    return base


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _off_hours(at: datetime, settings: RiskSettings) -> bool:
    start, end = settings.business_hours_utc
    return at.weekday() not in settings.business_weekdays or not start <= at.hour < end
