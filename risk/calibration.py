"""Calibration: does the risk score predict how actions end, and how do people use it?

Pure functions over `risk.track.PastDecision` rows (docs/research.md explains each number):

- reliability table: per risk band (and per component's band), executed actions, bad outcomes,
  the observed bad-outcome rate with its Wilson 95% interval, and the mean predicted score;
- Brier score: mean squared gap between the score (read as a probability of a bad outcome)
  and what happened;
- approvals by band: requests, approval rate, median seconds to decide;
- rubber stamps: approvals decided in under RUBBER_STAMP_SECONDS;
- low-risk rejections: people rejecting what the score nearly let run alone (within
  LOW_RISK_MARGIN above the execute threshold in force, or <= LOW_RISK when it is unknown): if
  they are common, the threshold lets through what people would not;
- threshold changes: the execute threshold in force over time;
- weekly: per calendar week, actions run and bad outcomes (all, and auto-executed), approvals,
  their median seconds, and the share of approvals under RUBBER_STAMP_SECONDS (drift at a glance).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

from risk.intervals import brier, median, wilson
from risk.track import Call, PastDecision

BAND_EDGES: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
"""Risk bands: [0, 0.2], (0.2, 0.4], ... (0.8, 1.0]."""
RUBBER_STAMP_SECONDS = 10.0
"""An approval faster than this is too fast to have read the request."""
LOW_RISK = 0.3
"""Without a known threshold, a rejected proposal scored at or below this is a 'low-risk rejection'."""
LOW_RISK_MARGIN = 0.1
"""A rejected proposal scored within this of the execute threshold is a 'low-risk rejection'."""


def band_of(score: float) -> str:
    """The band label a score falls in, e.g. '0.2-0.4'."""
    for low, high in pairwise(BAND_EDGES):
        if score <= high:
            return f"{low:.1f}-{high:.1f}"
    return f"{BAND_EDGES[-2]:.1f}-{BAND_EDGES[-1]:.1f}"


def bands() -> list[str]:
    """Every band label, lowest first."""
    return [band_of(high) for high in BAND_EDGES[1:]]


@dataclass(frozen=True)
class ReliabilityRow:
    """One band of a reliability table."""

    band: str
    executed: int
    bad: int
    observed: float | None
    low: float
    high: float
    predicted: float | None


@dataclass(frozen=True)
class ApprovalRow:
    """The human side of one band."""

    band: str
    requests: int
    approved: int
    rejected: int
    expired: int
    approval_rate: float | None
    median_seconds: float | None


@dataclass(frozen=True)
class ThresholdChange:
    """The execute threshold moved (or a person changed policy), and when."""

    at: datetime
    execute_max: float | None
    previous: float | None
    by: str = ""
    what: str = ""


@dataclass(frozen=True)
class CalibrationReport:
    """Everything `scutum report calibration` shows."""

    decisions: int
    executed: int
    bad: int
    brier: float | None
    reliability: list[ReliabilityRow]
    components: dict[str, list[ReliabilityRow]]
    approvals: list[ApprovalRow]
    rubber_stamps: int
    rubber_stamps_by_approver: dict[str, int]
    approved: int
    low_risk_rejections: list[dict[str, Any]]
    thresholds: list[ThresholdChange]
    weekly: list[dict[str, Any]]
    endings: dict[str, int]
    """How many decisions ended each way (risk.track.Ending)."""
    approvers: dict[str, dict[str, Any]]
    """Per person: approvals, rejections, median seconds to decide, approvals under 10 s."""

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (datetimes as ISO text)."""
        data = asdict(self)
        for change in data["thresholds"]:
            change["at"] = change["at"].isoformat()
        return data


def reliability(
    decisions: Sequence[PastDecision], score: Callable[[PastDecision], float | None]
) -> list[ReliabilityRow]:
    """A reliability table of executed decisions, banded by `score`."""
    rows = []
    executed = [(s, d.bad) for d in decisions if d.executed and (s := score(d)) is not None]
    for band in bands():
        members = [(s, bad) for s, bad in executed if band_of(s) == band]
        bad = sum(1 for _, b in members if b)
        low, high = wilson(bad, len(members))
        rows.append(
            ReliabilityRow(
                band=band,
                executed=len(members),
                bad=bad,
                observed=bad / len(members) if members else None,
                low=low,
                high=high,
                predicted=sum(s for s, _ in members) / len(members) if members else None,
            )
        )
    return rows


def approval_rows(decisions: Sequence[PastDecision]) -> list[ApprovalRow]:
    """Per band: how people decided the approval requests and how fast."""
    asked = [d for d in decisions if d.human is not None and d.risk is not None and d.human.call is not Call.PENDING]
    rows = []
    for band in bands():
        members = [d for d in asked if band_of(d.risk or 0.0) == band]
        calls = Counter(d.human.call for d in members if d.human)
        decided = calls[Call.APPROVED] + calls[Call.REJECTED]
        seconds = [
            d.human.seconds
            for d in members
            if d.human and d.human.call is Call.APPROVED and d.human.seconds is not None
        ]
        rows.append(
            ApprovalRow(
                band=band,
                requests=len(members),
                approved=calls[Call.APPROVED],
                rejected=calls[Call.REJECTED],
                expired=calls[Call.EXPIRED],
                approval_rate=calls[Call.APPROVED] / decided if decided else None,
                median_seconds=median(seconds),
            )
        )
    return rows


def threshold_changes(decisions: Sequence[PastDecision]) -> list[ThresholdChange]:
    """Each moment the execute threshold in force differed from the one before."""
    changes: list[ThresholdChange] = []
    previous: float | None = None
    for decision in decisions:
        current = decision.execute_max
        if current is None or current == previous:
            continue
        changes.append(ThresholdChange(at=decision.at, execute_max=current, previous=previous, what="execute_max"))
        previous = current
    return changes


def weekly(decisions: Sequence[PastDecision]) -> list[dict[str, Any]]:
    """Per ISO week (oldest first): runs, bad outcomes, auto runs, approvals and their speed."""
    weeks: dict[str, list[PastDecision]] = {}
    for decision in decisions:
        iso = decision.at.isocalendar()
        weeks.setdefault(f"{iso.year}-W{iso.week:02d}", []).append(decision)
    rows = []
    for week, members in sorted(weeks.items()):
        ran = [d for d in members if d.executed]
        auto = [d for d in ran if d.verdict == "execute"]
        seconds = [
            d.human.seconds
            for d in members
            if d.human and d.human.call is Call.APPROVED and d.human.seconds is not None
        ]
        rows.append(
            {
                "week": week,
                "ran": len(ran),
                "bad": sum(1 for d in ran if d.bad),
                "auto_ran": len(auto),
                "auto_bad": sum(1 for d in auto if d.bad),
                "approvals": len(seconds),
                "median_seconds_to_approve": median(seconds),
                "stamp_share": sum(1 for x in seconds if x < RUBBER_STAMP_SECONDS) / len(seconds) if seconds else None,
            }
        )
    return rows


def by_approver(decisions: Sequence[PastDecision]) -> dict[str, dict[str, Any]]:
    """Per person who voted: approvals, rejections, median seconds, approvals under 10 s."""
    calls: dict[str, list[tuple[Call, float | None]]] = {}
    for decision in decisions:
        if decision.human is None or decision.human.call not in (Call.APPROVED, Call.REJECTED):
            continue
        for who in decision.human.by:
            calls.setdefault(who, []).append((decision.human.call, decision.human.seconds))
    out = {}
    for who, made in sorted(calls.items()):
        approved = [s for c, s in made if c is Call.APPROVED]
        seconds = [s for _, s in made if s is not None]
        out[who] = {
            "approved": len(approved),
            "rejected": len(made) - len(approved),
            "median_seconds": median(seconds),
            "under_10s": sum(1 for s in approved if s is not None and s < RUBBER_STAMP_SECONDS),
        }
    return out


def _low_risk(decision: PastDecision) -> bool:
    if decision.risk is None:
        return False
    if decision.execute_max is None:
        return decision.risk <= LOW_RISK
    return decision.risk <= decision.execute_max + LOW_RISK_MARGIN


def calibrate(decisions: Sequence[PastDecision], *, policy_events: Sequence[ThresholdChange] = ()) -> CalibrationReport:
    """The calibration report over `decisions` (oldest first); `policy_events` are changes
    people made (pause, resume, promotions) with who made them, merged into the timeline."""
    executed = [d for d in decisions if d.executed and d.risk is not None]
    approved = [d for d in decisions if d.human is not None and d.human.call is Call.APPROVED]
    stamps = [d for d in approved if d.human and d.human.seconds is not None and d.human.seconds < RUBBER_STAMP_SECONDS]
    stamp_counts = Counter(who for d in stamps if d.human for who in d.human.by)
    component_names = sorted({name for d in executed for name in d.components})
    low_rejections = [
        {"at": d.at.isoformat(), "incident": d.incident_id, "action": d.action, "risk": d.risk, "by": list(d.human.by)}
        for d in decisions
        if d.human and d.human.call is Call.REJECTED and _low_risk(d)
    ]
    timeline = sorted([*threshold_changes(decisions), *policy_events], key=lambda c: c.at)
    return CalibrationReport(
        decisions=len(decisions),
        executed=len(executed),
        bad=sum(1 for d in executed if d.bad),
        brier=brier([(d.risk or 0.0, d.bad) for d in executed]),
        reliability=reliability(decisions, lambda d: d.risk),
        components={
            name: reliability(decisions, lambda d, name=name: d.components.get(name))  # type: ignore[misc]
            for name in component_names
        },
        approvals=approval_rows(decisions),
        rubber_stamps=len(stamps),
        rubber_stamps_by_approver=dict(stamp_counts.most_common()),
        approved=len(approved),
        low_risk_rejections=low_rejections,
        thresholds=timeline,
        weekly=weekly(decisions),
        endings=dict(Counter(d.ending.value for d in decisions).most_common()),
        approvers=by_approver(decisions),
    )
