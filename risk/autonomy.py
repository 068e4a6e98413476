"""Earned autonomy, measured: the track record of each case and what it has earned.

A case is (action, namespace, alert name). Its record, from the decisions on it (oldest first):
how often people were asked and approved, how fast, how the runs ended, and the current
streak: the most recent runs in a row that ended verified, with no rejection and no bad outcome
among them. The recommendation:

- PROMOTE from "approve" to "execute" when the case is decided by approval now and its streak
  reaches PROMOTE_STREAK;
- DEMOTE from "execute" to "approve" on the first bad outcome of a run nobody approved;
- HOLD otherwise.

Shadow decisions count too: how many there were, and how often people changed the same object
soon after (the record builds before Scutum acts).

A recommendation is only advice: `scutum policy promote` applies one, audited, never silently.
A promotion in force (`Grant`) turns an "approve" verdict on its case into "execute" only where
the evidence reaches (`apply_grant`): never past a veto, never above the highest score seen in
the streak that earned it, never in shadow mode.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from risk.intervals import median
from risk.model import Decision, Proposal, Verdict
from risk.track import Call, Ending, PastDecision

PROMOTE_STREAK = 10
"""Verified runs in a row (approved by people, no rejection, no bad outcome) that earn a promotion."""
EVIDENCE = 10


class Advice(StrEnum):
    """What the record recommends for a case."""

    PROMOTE = "promote"
    DEMOTE = "demote"
    HOLD = "hold"


@dataclass(frozen=True)
class CaseRecord:
    """One case's track record and the advice it earns."""

    action: str
    namespace: str
    alert: str
    mode: str
    """How the latest decision on the case was routed: execute, approve, deny or shadow."""
    decisions: int
    asked: int
    approved: int
    rejected: int
    ran: int
    bad: int
    streak: int
    shadow: int
    """Decisions made in shadow mode (recorded, nothing ran)."""
    shadow_people_acted: int
    """Of those, how many saw people change the same object within the window: where Scutum
    would have acted, people did act (not necessarily the same way)."""
    median_seconds_to_approve: float | None
    advice: Advice
    why: str
    evidence: list[str] = field(default_factory=list)
    """Incident IDs behind the advice (the streak, or the failure)."""


def _key(decision: PastDecision) -> tuple[str, str, str]:
    return (decision.action or "", decision.namespace or "", decision.alert_name)


def _streak(decisions: Sequence[PastDecision]) -> list[PastDecision]:
    """The latest settled decisions in a row that ran and verified (open or idle ones are skipped)."""
    run: list[PastDecision] = []
    for decision in reversed(decisions):
        rejected = decision.human is not None and decision.human.call is Call.REJECTED
        if decision.bad or rejected:
            break
        if decision.ending is Ending.VERIFIED:
            run.append(decision)
    return run[::-1]


def case_record(decisions: Sequence[PastDecision]) -> CaseRecord:
    """The record and advice of one case (`decisions` all of it, oldest first)."""
    latest = decisions[-1]
    mode = "shadow" if latest.shadow else latest.verdict
    asked = [d for d in decisions if d.human is not None and d.human.call is not Call.PENDING]
    approved = [d for d in asked if d.human and d.human.call is Call.APPROVED]
    streak = _streak(decisions)
    ran = [d for d in decisions if d.executed]
    advice, why, evidence = Advice.HOLD, "", [d.incident_id for d in streak[-EVIDENCE:]]
    last_run = ran[-1] if ran else None
    if mode == "execute" and last_run is not None and last_run.bad and last_run.human is None:
        advice, evidence = Advice.DEMOTE, [last_run.incident_id]
        why = f"the last unattended run ended {last_run.ending.value}"
    elif mode == "approve" and len(streak) >= PROMOTE_STREAK:
        advice = Advice.PROMOTE
        why = f"{len(streak)} verified runs in a row, none rejected, none bad"
    else:
        why = f"streak {len(streak)} of {PROMOTE_STREAK}" if mode == "approve" else f"routed to {mode}"
    return CaseRecord(
        action=latest.action or "",
        namespace=latest.namespace or "",
        alert=latest.alert_name,
        mode=mode,
        decisions=len(decisions),
        asked=len(asked),
        approved=len(approved),
        rejected=sum(1 for d in asked if d.human and d.human.call is Call.REJECTED),
        ran=len(ran),
        bad=sum(1 for d in ran if d.bad),
        streak=len(streak),
        shadow=sum(1 for d in decisions if d.shadow),
        shadow_people_acted=sum(1 for d in decisions if d.shadow and d.people_acted),
        median_seconds_to_approve=median([d.human.seconds for d in approved if d.human and d.human.seconds]),
        advice=advice,
        why=why,
        evidence=evidence,
    )


def autonomy(decisions: Sequence[PastDecision]) -> list[CaseRecord]:
    """Every case with a proposal: promotions and demotions first, then the busiest."""
    cases: dict[tuple[str, str, str], list[PastDecision]] = defaultdict(list)
    for decision in decisions:
        if decision.action is not None:
            cases[_key(decision)].append(decision)
    records = [case_record(sorted(group, key=lambda d: d.at)) for group in cases.values()]
    order = {Advice.DEMOTE: 0, Advice.PROMOTE: 1, Advice.HOLD: 2}
    return sorted(records, key=lambda r: (order[r.advice], -r.decisions, r.action, r.namespace, r.alert))


def autonomy_json(records: Sequence[CaseRecord]) -> list[dict[str, Any]]:
    """JSON-ready rows."""
    return [{**asdict(r), "advice": r.advice.value} for r in records]


@dataclass(frozen=True)
class Grant:
    """A case's autonomy as an operator set it: mode "execute" (promoted) or "approve" (demoted)."""

    action: str
    namespace: str | None
    alert: str
    mode: str
    max_risk: float
    """The highest score the earning streak covered; above it the case still asks people."""
    by: str
    at: datetime
    reason: str = ""
    evidence: tuple[str, ...] = ()


class GrantSource(Protocol):
    """Where the evaluator looks up a case's promotion (the store)."""

    def grant_for(self, action: str, namespace: str | None, alert: str) -> Grant | None:
        """The promotion in force for the case, or None."""
        ...


def apply_grant(
    proposal: Proposal, decision: Decision, grants: GrantSource | None, *, two_approver_min_risk: float | None = None
) -> Decision:
    """`decision`, or "execute" in its place when the case's promotion covers it.

    Only an "approve" verdict is changed, only with no veto among its rules, only in live mode,
    only for a proposal with an alert, only at or below the grant's max_risk, and never in the
    two-approver band as it is configured now (it may have been lowered since the promotion).
    """
    if grants is None or decision.verdict is not Verdict.APPROVE or decision.shadow or not proposal.alert_names:
        return decision
    if any(rule.startswith(("veto:", "cooldown waived")) for rule in decision.rules):
        return decision
    if two_approver_min_risk is not None and decision.risk.total >= two_approver_min_risk:
        return decision
    grant = grants.grant_for(proposal.action.value, proposal.target.namespace, proposal.alert_names[0])
    if grant is None or decision.risk.total > grant.max_risk:
        return decision
    rule = (
        f"earned autonomy: {grant.action} on {grant.alert} in {grant.namespace or 'the cluster'} promoted by "
        f"{grant.by} on {grant.at.date().isoformat()} up to risk {grant.max_risk:.2f}: execute"
    )
    return Decision(verdict=Verdict.EXECUTE, risk=decision.risk, rules=(*decision.rules, rule), shadow=False)


def earned_max_risk(decisions: Sequence[PastDecision]) -> float:
    """The highest score in the streak that earned a promotion (what the grant may cover)."""
    return round(max((d.risk for d in _streak(decisions) if d.risk is not None), default=0.0), 4)


def case_history(
    decisions: Sequence[PastDecision], *, action: str, namespace: str | None, alert: str
) -> list[PastDecision]:
    """One case's decisions, oldest first."""
    key = (action, namespace or "", alert)
    return sorted((d for d in decisions if d.action is not None and _key(d) == key), key=lambda d: d.at)
