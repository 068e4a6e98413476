"""Outcome labels derived from the store's rows equal the truth the generator wrote."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from agent.reports.labels import load_history
from agent.reports.seed import SeedClock, seed
from agent.store import Store
from risk.simulated_history import World, generate
from risk.track import Ending, PastDecision


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[Store, list[PastDecision]]:
    clock = SeedClock()
    store = Store.connect(f"sqlite:///{tmp_path / 'scutum.db'}", clock=clock.now)
    store.upgrade()
    history = generate(World(days=6, per_day=25, shadow_days=1), seed=7)
    seed(store, clock, history)
    return store, history


def _key(d: PastDecision) -> tuple[object, ...]:
    human = (d.human.call, d.human.by, d.human.seconds) if d.human else None
    return (
        d.incident_id,
        d.ending,
        d.verdict,
        d.action,
        d.planner,
        human,
        d.execute_max,
        d.claims_made,
        d.claims_disputed,
        d.alert_name,
        d.shadow,
        d.people_acted,
        round(d.risk or 0.0, 4),
    )


def test_every_ending_is_derived_from_the_rows_as_generated(seeded: tuple[Store, list[PastDecision]]) -> None:
    store, history = seeded
    loaded = load_history(store, since=None)
    endings = Counter(d.ending for d in history)
    assert {Ending.VERIFIED, Ending.FAILED, Ending.ESCALATED, Ending.SELF_RESOLVED, Ending.REJECTED} <= set(endings)
    assert Ending.SHADOW in endings
    assert Ending.REVERTED_BY_OWNER in endings, "the owner's revert is among the generated endings"
    assert {d.people_acted for d in history if d.shadow} == {True, False}
    assert sorted(map(_key, loaded)) == sorted(map(_key, history))


def test_since_limits_the_history_to_incidents_started_after_it(seeded: tuple[Store, list[PastDecision]]) -> None:
    store, history = seeded
    cut = history[len(history) // 2].at
    loaded = load_history(store, since=cut)
    assert {d.incident_id for d in loaded} == {d.incident_id for d in history if d.at >= cut}


def test_a_later_undo_relabels_a_verified_action(seeded: tuple[Store, list[PastDecision]]) -> None:
    store, history = seeded
    undone = [d for d in history if d.ending is Ending.UNDONE]
    changed = [d for d in history if d.ending in (Ending.OVERRIDDEN, Ending.REVERTED_BY_OWNER)]
    loaded = {d.incident_id: d for d in load_history(store, since=None)}
    assert undone and changed
    assert all(loaded[d.incident_id].ending is Ending.UNDONE for d in undone)
    assert all(loaded[d.incident_id].bad for d in [*undone, *changed])
    assert replace(undone[0], ending=Ending.VERIFIED).bad is False
