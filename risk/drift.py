"""Drift signals: named statistics over a recent window compared with a baseline window.

At a moment `now`, the recent window is (now - recent, now] and the baseline the `baseline`
days before it. Each signal is a number, a threshold, and whether it fires; each needs enough
data in both windows (MIN_* counts) or it reads "insufficient data" and does not fire.

- RUBBER_STAMPING: approvals got much faster while more got approved. Fires when the recent
  median time-to-approve is at most `latency_ratio` of the baseline's, the approval rate rose
  by at least `approval_rise`, and at least `stamp_share` of recent approvals took < 10 s.
- AUTO_BAND_EXCESS: actions run without a human fail more than they used to. Bad outcomes
  among recent auto-executed actions are compared with the baseline's by a one-sided Fisher
  exact test; fires when p < `alpha`.
- AUTO_BAND_WIDENED: the execute threshold rose above the baseline's while the auto band's
  bad-outcome rate rose too (one-sided two-proportion test, p < `widened_alpha`).
- CLAIMS_DISPUTED_RISE: for some planner, the share of proposals the auditor disputed rose by
  at least `disputed_rise` with p < `alpha` (Fisher exact, one-sided; a planner learning to game its score, or a
  prompt that no longer matches the cluster).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from risk.calibration import RUBBER_STAMP_SECONDS
from risk.intervals import fisher_greater, median, two_proportion_p
from risk.track import Call, PastDecision

MIN_APPROVALS = 20
MIN_AUTO_RUNS = 30
MIN_PROPOSALS = 30


class Signal(StrEnum):
    """The drift signals, as named in metrics, alerts and docs."""

    RUBBER_STAMPING = "rubber_stamping"
    AUTO_BAND_EXCESS = "auto_band_excess"
    AUTO_BAND_WIDENED = "auto_band_widened"
    CLAIMS_DISPUTED_RISE = "claims_disputed_rise"


@dataclass(frozen=True)
class DriftSettings:
    """Windows and thresholds of the drift signals (see the module docstring)."""

    recent: timedelta = timedelta(days=14)
    baseline: timedelta = timedelta(days=42)
    latency_ratio: float = 0.5
    approval_rise: float = 0.05
    stamp_share: float = 0.2
    alpha: float = 0.001
    widened_alpha: float = 0.05
    disputed_rise: float = 0.05


@dataclass(frozen=True)
class Reading:
    """One signal at one moment: its statistic, the threshold it is compared with, and why."""

    signal: Signal
    value: float | None
    threshold: float
    firing: bool
    detail: str


@dataclass(frozen=True)
class _Windows:
    baseline: list[PastDecision]
    recent: list[PastDecision]


def _split(decisions: Sequence[PastDecision], now: datetime, settings: DriftSettings) -> _Windows:
    start = now - settings.recent
    return _Windows(
        baseline=[d for d in decisions if start - settings.baseline < d.at <= start],
        recent=[d for d in decisions if start < d.at <= now],
    )


def _approvals(decisions: list[PastDecision]) -> tuple[list[float], int, int]:
    """(seconds of approvals, approved count, decided count)."""
    calls = [d.human for d in decisions if d.human is not None and d.human.call in (Call.APPROVED, Call.REJECTED)]
    approved = [c for c in calls if c.call is Call.APPROVED]
    return [c.seconds for c in approved if c.seconds is not None], len(approved), len(calls)


def rubber_stamping(w: _Windows, s: DriftSettings) -> Reading:
    """Approval latency collapsing while the approval rate rises."""
    base_s, base_ok, base_n = _approvals(w.baseline)
    rec_s, rec_ok, rec_n = _approvals(w.recent)
    base_med, rec_med = median(base_s), median(rec_s)
    if min(len(base_s), len(rec_s)) < MIN_APPROVALS or not base_med or rec_med is None:
        return Reading(Signal.RUBBER_STAMPING, None, s.latency_ratio, False, "insufficient data")
    ratio = rec_med / base_med
    rise = rec_ok / rec_n - base_ok / base_n
    stamps = sum(1 for x in rec_s if x < RUBBER_STAMP_SECONDS) / len(rec_s)
    firing = ratio <= s.latency_ratio and rise >= s.approval_rise and stamps >= s.stamp_share
    detail = (
        f"median approval {rec_med:.0f}s vs {base_med:.0f}s (ratio {ratio:.2f}), approval rate {rise:+.2f}, "
        f"{stamps:.0%} under {RUBBER_STAMP_SECONDS:.0f}s"
    )
    return Reading(Signal.RUBBER_STAMPING, ratio, s.latency_ratio, firing, detail)


def _auto(decisions: list[PastDecision]) -> list[PastDecision]:
    return [d for d in decisions if d.verdict == "execute" and d.executed]


def auto_band_excess(w: _Windows, s: DriftSettings) -> Reading:
    """Bad outcomes among recent auto-executed actions above the baseline's rate."""
    base, recent = _auto(w.baseline), _auto(w.recent)
    if len(base) < MIN_AUTO_RUNS or len(recent) < MIN_AUTO_RUNS:
        return Reading(Signal.AUTO_BAND_EXCESS, None, s.alpha, False, "insufficient data")
    base_bad, rec_bad = sum(d.bad for d in base), sum(d.bad for d in recent)
    p = fisher_greater(base_bad, len(base), rec_bad, len(recent))
    detail = f"{rec_bad}/{len(recent)} bad vs baseline {base_bad}/{len(base)}, p={p:.2g}"
    return Reading(Signal.AUTO_BAND_EXCESS, p, s.alpha, p < s.alpha, detail)


def auto_band_widened(w: _Windows, s: DriftSettings) -> Reading:
    """The execute threshold rose while auto-band failures rose."""
    base, recent = _auto(w.baseline), _auto(w.recent)
    base_max = median([d.execute_max for d in w.baseline if d.execute_max is not None])
    rec_max = max((d.execute_max for d in w.recent if d.execute_max is not None), default=None)
    if base_max is None or rec_max is None or len(base) < MIN_AUTO_RUNS or len(recent) < MIN_AUTO_RUNS:
        return Reading(Signal.AUTO_BAND_WIDENED, None, s.widened_alpha, False, "insufficient data")
    base_bad, rec_bad = sum(d.bad for d in base), sum(d.bad for d in recent)
    p = two_proportion_p(base_bad, len(base), rec_bad, len(recent))
    widened = rec_max > base_max + 1e-9
    detail = f"execute_max {base_max:.2f} -> {rec_max:.2f}; auto bad {base_bad}/{len(base)} -> {rec_bad}/{len(recent)}"
    return Reading(
        Signal.AUTO_BAND_WIDENED, p, s.widened_alpha, widened and p < s.widened_alpha, detail + f", p={p:.2g}"
    )


def claims_disputed_rise(w: _Windows, s: DriftSettings) -> Reading:
    """The worst planner's rise in the share of proposals the auditor disputed."""
    planners = sorted({d.planner for d in w.recent if d.action is not None})
    worst: Reading = Reading(Signal.CLAIMS_DISPUTED_RISE, None, s.alpha, False, "insufficient data")
    for planner in planners:
        base = [d for d in w.baseline if d.action is not None and d.planner == planner]
        recent = [d for d in w.recent if d.action is not None and d.planner == planner]
        if len(base) < MIN_PROPOSALS or len(recent) < MIN_PROPOSALS:
            continue
        base_hits = sum(1 for d in base if d.claims_disputed)
        rec_hits = sum(1 for d in recent if d.claims_disputed)
        p = fisher_greater(base_hits, len(base), rec_hits, len(recent))
        rise = rec_hits / len(recent) - base_hits / len(base)
        firing = p < s.alpha and rise >= s.disputed_rise
        detail = f"planner {planner or '?'}: disputed {base_hits}/{len(base)} -> {rec_hits}/{len(recent)}, p={p:.2g}"
        if worst.value is None or p < worst.value:
            worst = Reading(Signal.CLAIMS_DISPUTED_RISE, p, s.alpha, firing, detail)
    return worst


SIGNALS: dict[Signal, Callable[[_Windows, DriftSettings], Reading]] = {
    Signal.RUBBER_STAMPING: rubber_stamping,
    Signal.AUTO_BAND_EXCESS: auto_band_excess,
    Signal.AUTO_BAND_WIDENED: auto_band_widened,
    Signal.CLAIMS_DISPUTED_RISE: claims_disputed_rise,
}


def evaluate(decisions: Sequence[PastDecision], now: datetime, settings: DriftSettings | None = None) -> list[Reading]:
    """Every signal at `now`."""
    settings = settings or DriftSettings()
    windows = _split(decisions, now, settings)
    return [check(windows, settings) for check in SIGNALS.values()]


def first_alarms(
    decisions: Sequence[PastDecision],
    *,
    start: datetime,
    end: datetime,
    step: timedelta = timedelta(days=1),
    settings: DriftSettings | None = None,
) -> dict[Signal, datetime | None]:
    """Evaluate every `step` from `start` to `end`; when each signal first fired (None: never)."""
    found: dict[Signal, datetime | None] = dict.fromkeys(Signal)
    now = start
    while now <= end:
        for reading in evaluate(decisions, now, settings):
            if reading.firing and found[reading.signal] is None:
                found[reading.signal] = now
        now += step
    return found
