"""From probed facts to a score and a verdict: components, auditor, combiner, policy. Pure."""

from __future__ import annotations

from datetime import datetime

from actions.base import Profile
from actions.registry import get_action
from risk.auditor import audit
from risk.combiner import combine
from risk.components import blast_radius, operational_pressure, reversibility, state_validity
from risk.facts import Facts
from risk.model import Component, Decision, Proposal, RiskScore
from risk.policy import decide
from risk.settings import PolicySettings, RiskSettings


def score(
    proposal: Proposal, facts: Facts, settings: RiskSettings, *, now: datetime, profile: Profile | None = None
) -> RiskScore:
    """The decomposed risk of `proposal` given `facts`, with the planner's claims audited."""
    action = proposal.action
    prof = profile if profile is not None else get_action(action).profile
    params = proposal.params
    validity = state_validity(facts, prof, params, action=action, settings=settings, now=now)
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
) -> tuple[RiskScore, Decision]:
    """Score `proposal` and decide on it; the same inputs always give the same result."""
    risk = score(proposal, facts, settings, now=now, profile=profile)
    return risk, decide(proposal, facts, risk, policy, now=now)
