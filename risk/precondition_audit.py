"""Precondition audit: how often the independent auditor disputed what a planner claimed.

Per planner: proposals, proposals with claims, proposals the auditor disputed (at least one
finding: a false claim, one the probes could not confirm, or a key outside the vocabulary), the
disputed share with its Wilson 95% interval, and recent examples. A rising share is the drift
signal `claims_disputed_rise` (risk.drift).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from risk.intervals import wilson
from risk.track import PastDecision

EXAMPLES = 5


@dataclass(frozen=True)
class PlannerAudit:
    """One planner's record with the auditor."""

    planner: str
    proposals: int
    with_claims: int
    disputed: int
    share: float | None
    low: float
    high: float
    examples: list[dict[str, Any]] = field(default_factory=list)


def precondition_audit(decisions: Sequence[PastDecision]) -> list[PlannerAudit]:
    """Per planner (busiest first), how often the auditor disputed its claims."""
    planners = sorted({d.planner for d in decisions if d.action is not None})
    found = []
    for planner in planners:
        mine = [d for d in decisions if d.action is not None and d.planner == planner]
        disputed = [d for d in mine if d.claims_disputed]
        low, high = wilson(len(disputed), len(mine))
        examples = [
            {
                "at": d.at.isoformat(),
                "incident": d.incident_id,
                "alert": d.alert_name,
                "action": d.action,
                "claims": d.claims_made,
                "disputed": d.claims_disputed,
            }
            for d in disputed[-EXAMPLES:]
        ]
        found.append(
            PlannerAudit(
                planner=planner or "?",
                proposals=len(mine),
                with_claims=sum(1 for d in mine if d.claims_made),
                disputed=len(disputed),
                share=len(disputed) / len(mine) if mine else None,
                low=low,
                high=high,
                examples=examples,
            )
        )
    return sorted(found, key=lambda a: -a.proposals)


def audit_json(audits: Sequence[PlannerAudit]) -> list[dict[str, Any]]:
    """JSON-ready rows."""
    return [asdict(a) for a in audits]
