"""Calibration report on generated histories whose truth is known."""

from __future__ import annotations

from datetime import timedelta

from risk.calibration import RUBBER_STAMP_SECONDS, band_of, calibrate
from risk.simulated_history import Drift, World, generate
from risk.track import Call, Ending

WORLD = World()


def test_reliability_intervals_hold_the_true_bad_outcome_rate() -> None:
    history = generate(WORLD, seed=0)
    report = calibrate(history)
    executed = [d for d in history if d.executed and d.risk is not None]
    for row in report.reliability:
        members = [d.risk or 0.0 for d in executed if band_of(d.risk or 0.0) == row.band]
        assert row.executed == len(members)
        if len(members) < 30:
            continue
        truth = sum(WORLD.bad_base + WORLD.bad_slope * r * r for r in members) / len(members)
        assert row.low <= truth <= row.high, row
    bad = (Ending.FAILED, Ending.UNDONE, Ending.OVERRIDDEN, Ending.REVERTED_BY_OWNER)
    assert report.bad == sum(1 for d in executed if d.ending in bad)
    assert report.brier is not None and 0.0 < report.brier < 0.25


def test_approval_rate_falls_with_risk_as_the_generator_makes_it() -> None:
    report = calibrate(generate(WORLD, seed=1))
    rates = {row.band: row.approval_rate for row in report.approvals if row.requests >= 100}
    assert rates["0.2-0.4"] is not None and rates["0.4-0.6"] is not None
    assert rates["0.2-0.4"] > rates["0.4-0.6"]
    medians = [row.median_seconds for row in report.approvals if row.requests >= 100]
    assert all(m is not None and 90 < m < 250 for m in medians)  # generator's median is 150 s


def test_rubber_stamps_appear_only_after_the_drift() -> None:
    stationary = calibrate(generate(WORLD, seed=2))
    drifted_history = generate(World(drift=Drift.RUBBER_STAMPING), seed=2)
    drifted = calibrate(drifted_history)
    assert stationary.rubber_stamps <= 0.01 * stationary.approved
    assert drifted.rubber_stamps > 0.3 * drifted.approved
    fast = [d for d in drifted_history if d.human and d.human.call is Call.APPROVED and (d.human.seconds or 99) < 10]
    before = [d for d in fast if d.at < WORLD.start + timedelta(days=WORLD.drift_day)]
    assert len(before) <= 0.02 * len(fast)
    assert sum(drifted.rubber_stamps_by_approver.values()) >= drifted.rubber_stamps
    assert RUBBER_STAMP_SECONDS == 10.0


def test_a_widened_execute_threshold_shows_in_the_timeline_once() -> None:
    report = calibrate(generate(World(drift=Drift.WIDENED_BAND), seed=3))
    assert [(c.previous, c.execute_max) for c in report.thresholds] == [(None, 0.3), (0.3, 0.5)]
    assert report.thresholds[1].at >= WORLD.start + timedelta(days=WORLD.drift_day)


def test_low_risk_rejections_are_listed_with_who_rejected() -> None:
    report = calibrate(generate(WORLD, seed=4))
    assert report.low_risk_rejections
    assert all(0.3 < r["risk"] <= 0.4 and r["by"] for r in report.low_risk_rejections)
    assert report.as_json()["thresholds"][0]["at"].startswith("2026-")


def test_weekly_rows_show_the_drift_week_by_week() -> None:
    history = generate(World(drift=Drift.RUBBER_STAMPING), seed=6)
    weeks = calibrate(history).weekly
    assert sum(w["ran"] for w in weeks) == sum(1 for d in history if d.executed)
    early, late = weeks[1], weeks[-2]  # whole weeks before day 40 and well after it
    assert early["stamp_share"] is not None and early["stamp_share"] < 0.05
    assert late["stamp_share"] is not None and late["stamp_share"] > 0.8


def test_endings_and_approvers_add_up() -> None:
    history = generate(WORLD, seed=8)
    report = calibrate(history)
    assert sum(report.endings.values()) == len(history)
    assert report.endings["verified"] == sum(1 for d in history if d.ending is Ending.VERIFIED)
    votes = sum(1 for d in history if d.human and d.human.call in (Call.APPROVED, Call.REJECTED))
    assert sum(v["approved"] + v["rejected"] for v in report.approvers.values()) == votes
