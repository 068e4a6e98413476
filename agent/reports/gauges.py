"""Keep the calibration gauges of /metrics current from the store (a scheduled job)."""

from __future__ import annotations

from datetime import datetime

from agent.metrics import Metrics
from agent.reports.build import calibration_from
from agent.reports.labels import load_history
from agent.store import Store
from risk.drift import DriftSettings


def refresh_gauges(metrics: Metrics, store: Store, *, now: datetime) -> None:
    """Recompute the drift signals and the reliability table over the drift windows."""
    settings = DriftSettings()
    data = calibration_from(load_history(store, since=now - settings.recent - settings.baseline), now=now)
    for reading in data["drift"]:
        metrics.drift.labels(signal=reading["signal"]).set(1 if reading["firing"] else 0)
        if reading["value"] is not None:
            metrics.drift_statistic.labels(signal=reading["signal"]).set(reading["value"])
    for row in data["calibration"]["reliability"]:
        if row["observed"] is not None:
            metrics.bad_outcome_rate.labels(band=row["band"]).set(row["observed"])
    if data["calibration"]["brier"] is not None:
        metrics.brier.set(data["calibration"]["brier"])
