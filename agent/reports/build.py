"""The reports as data: the store's history run through the pure statistics of `risk`.

`calibration_report` and `coverage_report` return plain JSON-ready dicts (the `--json`
contract of `scutum report`); `summary_lines` turns them into a few lines for a terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.reports.labels import Windows, load_history
from agent.store import Store
from risk.calibration import ThresholdChange, calibrate
from risk.coverage import coverage
from risk.drift import DriftSettings, Reading, evaluate
from risk.precondition_audit import audit_json, precondition_audit
from risk.track import PastDecision

POLICY_KINDS = ("control",)
"""Audit kinds that record a person changing how Scutum acts (pause, resume, promotions)."""


def policy_events(store: Store, since: datetime | None) -> list[ThresholdChange]:
    """Changes people made to how Scutum acts, with who made them, from the audit chain."""
    return [
        ThresholdChange(
            at=record.ts,
            execute_max=None,
            previous=None,
            by=record.actor,
            what=" ".join(str(record.payload.get(k, "")) for k in ("action", "reason")).strip(),
        )
        for record in store.outcomes.audit_of_kinds(POLICY_KINDS, since)
    ]


def reading_json(reading: Reading) -> dict[str, Any]:
    """One drift signal as JSON."""
    return {
        "signal": reading.signal.value,
        "value": reading.value,
        "threshold": reading.threshold,
        "firing": reading.firing,
        "detail": reading.detail,
    }


def calibration_from(
    history: Sequence[PastDecision], *, now: datetime, events: Sequence[ThresholdChange] = ()
) -> dict[str, Any]:
    """The calibration report (with drift signals at `now` and the precondition audit)."""
    report = calibrate(history, policy_events=events)
    return {
        "generated_at": now.isoformat(),
        "calibration": report.as_json(),
        "drift": [reading_json(r) for r in evaluate(history, now, DriftSettings())],
        "precondition_audit": audit_json(precondition_audit(history)),
    }


def calibration_report(
    store: Store, *, since: datetime | None, now: datetime, windows: Windows | None = None
) -> dict[str, Any]:
    """`scutum report calibration` as data. Drift compares windows before `now`, so it reads
    the whole history the drift windows need, whatever `since` is."""
    everything = load_history(store, since=None, windows=windows)
    report = calibration_from(
        [d for d in everything if since is None or d.at >= since], now=now, events=policy_events(store, since)
    )
    report["drift"] = [reading_json(r) for r in evaluate(everything, now, DriftSettings())]
    return report


def coverage_report(store: Store, *, since: datetime | None) -> dict[str, Any]:
    """`scutum report coverage` as data."""
    return coverage(load_history(store, since=since)).as_json()


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def terminal_safe(line: str, *, limit: int = 400) -> str:
    """A line fit for a terminal: alert names and reasons are untrusted, so anything not
    printable (escape sequences, control characters) becomes '?', and the line is capped."""
    safe = "".join(c if c.isprintable() else "?" for c in line)
    return safe if len(safe) <= limit else safe[: limit - 1] + "…"


def summary_lines(calibration: dict[str, Any], cover: dict[str, Any]) -> list[str]:
    """A short terminal summary of both reports."""
    return [terminal_safe(line) for line in (*calibration_lines(calibration), *coverage_lines(cover))]


def calibration_lines(calibration: dict[str, Any]) -> list[str]:
    """A few lines about calibration, approvals and drift."""
    cal = calibration["calibration"]
    lines = [
        f"calibration: {cal['decisions']} decisions, {cal['executed']} actions ran, {cal['bad']} ended badly"
        + (f", Brier {cal['brier']:.3f}" if cal["brier"] is not None else ""),
    ]
    for row in cal["reliability"]:
        if row["executed"]:
            lines.append(
                f"  risk {row['band']}: {row['bad']}/{row['executed']} bad ({_pct(row['observed'])}, "
                f"95% {row['low']:.2f}-{row['high']:.2f}), mean score {row['predicted']:.2f}"
            )
    lines.append(f"  approvals: {cal['approved']} approved, {cal['rubber_stamps']} in under 10 s")
    firing = [d["signal"] for d in calibration["drift"] if d["firing"]]
    lines.append(f"  drift signals firing: {', '.join(firing) or 'none'}")
    return lines


def coverage_lines(cover: dict[str, Any]) -> list[str]:
    """A few lines about coverage."""
    lines = [
        f"coverage: {cover['incidents']} incidents, {_pct(cover['share_addressed'])} addressed by an action, "
        f"{cover['no_fit']} escalated with no action that fit"
    ]
    for action, count in list(cover["addressed"].items())[:9]:
        lines.append(f"  {action:<20} {count:>4}  {_pct(count / cover['incidents'])}")
    if cover["tenth"]:
        tenth = cover["tenth"]
        lines.append(
            f"  a tenth action for {tenth['alert']} would cover {tenth['incidents']} more "
            f"(coverage {_pct(tenth['coverage_with_it'])})"
        )
    return lines


def write_reports(store: Store, directory: Path, *, now: datetime) -> tuple[list[str], list[Path]]:
    """Both reports over the whole store: summary lines, and the HTML files written in `directory`."""
    from agent.reports.html import calibration_html, coverage_html

    calibration = calibration_report(store, since=None, now=now)
    cover = coverage_report(store, since=None)
    paths = [directory / "calibration.html", directory / "coverage.html"]
    paths[0].write_text(calibration_html(calibration), encoding="utf-8")
    paths[1].write_text(coverage_html(cover), encoding="utf-8")
    return summary_lines(calibration, cover), paths
