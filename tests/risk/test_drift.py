"""Drift signals on generated histories: an injected drift is flagged within its stated delay,
and a stationary history raises nothing. (Rates over many seeds are measured in bench/drift.py.)"""

from __future__ import annotations

from datetime import timedelta

import pytest

from risk.drift import Signal, evaluate, first_alarms
from risk.simulated_history import Drift, World, generate

STATED_DELAY_DAYS: dict[Drift, tuple[Signal, int]] = {
    Drift.RUBBER_STAMPING: (Signal.RUBBER_STAMPING, 14),
    Drift.PLANNER_GAMING: (Signal.CLAIMS_DISPUTED_RISE, 14),
    Drift.AUTO_FAILURES: (Signal.AUTO_BAND_EXCESS, 21),
    Drift.WIDENED_BAND: (Signal.AUTO_BAND_WIDENED, 21),
}
"""The delay docs/benchmarks.md states for each drift (most seeds detect well within it)."""


def _alarms(world: World, seed: int) -> dict[Signal, int | None]:
    history = generate(world, seed=seed)
    found = first_alarms(history, start=world.start + timedelta(days=28), end=world.start + timedelta(days=world.days))
    return {signal: (at - world.start).days if at else None for signal, at in found.items()}


@pytest.mark.parametrize("drift", list(STATED_DELAY_DAYS))
def test_a_drift_injected_at_day_40_is_flagged_within_the_stated_delay(drift: Drift) -> None:
    world = World(drift=drift, drift_day=40)
    signal, delay = STATED_DELAY_DAYS[drift]
    day = _alarms(world, seed=0)[signal]
    assert day is not None, f"{signal} never fired"
    assert 40 <= day <= 40 + delay


@pytest.mark.parametrize("seed", [0, 2, 3])
def test_a_stationary_history_raises_no_signal(seed: int) -> None:
    assert all(day is None for day in _alarms(World(), seed=seed).values())


def test_too_little_data_reads_as_insufficient_never_as_firing() -> None:
    world = World(days=5)
    readings = evaluate(generate(world, seed=0), world.start + timedelta(days=5))
    assert {r.signal for r in readings} == set(Signal)
    assert all(not r.firing and r.value is None and "insufficient" in r.detail for r in readings)
