"""Action-space coverage: how much of what happened the nine actions addressed.

Pure functions over `risk.track.PastDecision` rows, one incident counted once (its last
decision). Named statistics (docs/research.md):

- addressed share per action: incidents for which that action was proposed, over all incidents
  (whether it then ran, was approved, rejected or denied);
- no-fit share: incidents escalated because no action fit, grouped by alert name and by the
  planner's reason;
- marginal coverage curve: the share addressed with only the best 1, 2, ... 9 actions (each
  incident is addressed by one action, so the best k are the k most used);
- tenth action: the alert that no action fit most often, and the coverage with it added.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from actions.base import ActionName
from risk.track import PastDecision

REASON_CHARS = 120
"""Reasons are grouped by their first characters (they may end with per-incident detail)."""


@dataclass(frozen=True)
class CurvePoint:
    """Coverage with the best `k` actions."""

    k: int
    actions: tuple[str, ...]
    share: float


@dataclass(frozen=True)
class CoverageReport:
    """Everything `scutum report coverage` shows."""

    incidents: int
    addressed: dict[str, int]
    no_fit: int
    no_fit_by_alert: dict[str, int]
    no_fit_by_reason: dict[str, int]
    curve: list[CurvePoint]
    tenth: dict[str, Any] | None

    @property
    def share_addressed(self) -> float:
        """Share of incidents some action addressed."""
        return sum(self.addressed.values()) / self.incidents if self.incidents else 0.0

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {**asdict(self), "share_addressed": self.share_addressed}


def coverage_of(cases: Iterable[tuple[str, str | None, str]]) -> CoverageReport:
    """Coverage over (alert or fault class, action or None, reason when None) cases."""
    rows = list(cases)
    total = len(rows)
    addressed = Counter(action for _, action, _ in rows if action is not None)
    misses = [(alert, reason) for alert, action, reason in rows if action is None]
    ranked = sorted(((addressed.get(a.value, 0), a.value) for a in ActionName), key=lambda x: (-x[0], x[1]))
    curve, covered = [], 0
    for k, (count, _) in enumerate(ranked, 1):
        covered += count
        curve.append(CurvePoint(k, tuple(a for _, a in ranked[:k]), covered / total if total else 0.0))
    by_alert = Counter(alert for alert, _ in misses)
    tenth = None
    if by_alert:
        alert, count = by_alert.most_common(1)[0]
        with_it = (covered + count) / total
        tenth = {"alert": alert, "incidents": count, "share": count / total, "coverage_with_it": with_it}
    return CoverageReport(
        incidents=total,
        addressed=dict(addressed.most_common()),
        no_fit=len(misses),
        no_fit_by_alert=dict(by_alert.most_common()),
        no_fit_by_reason=dict(Counter((reason or "-")[:REASON_CHARS] for _, reason in misses).most_common()),
        curve=curve,
        tenth=tenth,
    )


def coverage(decisions: Sequence[PastDecision]) -> CoverageReport:
    """Coverage of the incidents in `decisions` (each incident once: its last decision)."""
    last = {d.incident_id: d for d in decisions}
    return coverage_of((d.alert_name, d.action, d.escalation_reason) for d in last.values())
