"""From probed facts to a score and a verdict: preconditions, components, auditor, combiner,
policy. Pure.

The action's preconditions (`actions.preconditions.judge`) are judged first, on the same facts the
scorers read: state validity is derived from that judgement, and a failed precondition is a veto.
"""

from __future__ import annotations

from datetime import datetime

from actions.base import ActionLimits, Profile
from actions.preconditions import Judgement, judge
from actions.registry import get_action
from risk.auditor import audit
from risk.combiner import combine
from risk.components import blast_radius, operational_pressure, reversibility, state_validity
from risk.facts import Facts
from risk.model import Component, Decision, Proposal, RiskScore
from risk.policy import decide
from risk.settings import PolicySettings, RiskSettings

DEFAULT_LIMITS = ActionLimits()


def judge_proposal(proposal: Proposal, facts: Facts, limits: ActionLimits = DEFAULT_LIMITS) -> Judgement:
    """Whether the proposal's action can run now, by its own preconditions, on these facts."""
    return judge(get_action(proposal.action), facts, proposal.params, limits)


def precondition_refusal(decision: Decision) -> str | None:
    """Why the action must not run on the facts this decision was judged on, or None: what the
    executor checks on fresh facts right before writing, whatever was approved before."""
    failed = decision.failed_preconditions
    if not failed:
        return None
    return "; ".join(f"precondition {c.name} failed: {c.detail}" for c in failed)


def score(
    proposal: Proposal,
    facts: Facts,
    settings: RiskSettings,
    *,
    now: datetime,
    profile: Profile | None = None,
    limits: ActionLimits = DEFAULT_LIMITS,
    judgement: Judgement | None = None,
) -> RiskScore:
    """The decomposed risk of `proposal` given `facts`, with the planner's claims audited."""
    action = proposal.action
    prof = profile if profile is not None else get_action(action).profile
    params = proposal.params
    checks = judgement if judgement is not None else judge_proposal(proposal, facts, limits)
    validity = state_validity(facts, prof, params, action=action, settings=settings, now=now, judgement=checks)
    components = {
        Component.BLAST_RADIUS: blast_radius(facts, prof, params, action=action, settings=settings),
        Component.REVERSIBILITY: reversibility(facts, prof, params, action=action, settings=settings),
        Component.STATE_VALIDITY: audit(proposal.claims, facts).raise_score(validity),
        Component.OPERATIONAL_PRESSURE: operational_pressure(
            facts, prof, params, action=action, settings=settings, now=now
        ),
    }
    return combine(components, settings)


def assess(
    proposal: Proposal,
    facts: Facts,
    settings: RiskSettings,
    policy: PolicySettings,
    *,
    now: datetime,
    profile: Profile | None = None,
    limits: ActionLimits = DEFAULT_LIMITS,
) -> tuple[RiskScore, Decision]:
    """Judge, score and decide on `proposal`; the same inputs always give the same result."""
    judgement = judge_proposal(proposal, facts, limits)
    risk = score(proposal, facts, settings, now=now, profile=profile, judgement=judgement)
    return risk, decide(proposal, facts, risk, policy, now=now, judgement=judgement)
