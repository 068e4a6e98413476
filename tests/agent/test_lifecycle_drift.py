"""A long-running daemon does not drift: a verified fix closes its incident in the store, so
operational pressure counts only incidents that are truly open and the sixth identical fault is
scored like the first."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.app import Agent, build_agent
from agent.evaluate import Outcome
from agent.settings import load_settings
from agent.store import IncidentStatus
from risk.settings import RiskSettings
from simcluster.harness import RunningSim

ROUNDS = 6
FIRST_SCORE = 0.135
"""Scaling catalog back up from zero: blast radius 0.05, reversibility 0.15, no pressure."""


def daytime_agent(sim: RunningSim, data_dir: Path) -> Agent:
    """An agent with the default policy, on a clock that is always within business hours
    (so the hours that pass between rounds do not change the score)."""
    base = load_settings(None, env={})
    risk = RiskSettings.model_validate(
        {**base.risk.model_dump(), "business_hours_utc": (0, 24), "business_weekdays": tuple(range(7))}
    )
    settings = base.model_copy(
        update={"data_dir": data_dir, "kube": base.kube.model_copy(update={"url": sim.url}), "risk": risk}
    )
    return build_agent(
        settings,
        clock=sim.cluster.clock.now,
        use_cache=False,
        sleep=lambda seconds: sim.cluster.tick(10),
        verify_timeout_seconds=20.0,
    )


@pytest.fixture
def agent(sim: RunningSim, tmp_path: Path) -> Iterator[Agent]:
    sim.cluster.settle(passes=10, seconds=2.0)
    sim.cluster.tick(3600)
    sim.cluster.settle(passes=3, seconds=2.0)
    agent = daytime_agent(sim, tmp_path / "data")
    try:
        yield agent
    finally:
        agent.stop()


def poll(agent: Agent, sim: RunningSim) -> list[Outcome]:
    """One complete poll of what the cluster fires; the outcomes of new decisions."""
    handled = agent.pipeline.ingest_poll(json.dumps(sim.cluster.firing_alerts()))
    return [h.evaluation.outcome for h in handled]


def test_verified_fixes_close_their_incidents_in_the_store_and_leave_no_pressure(agent: Agent, sim: RunningSim) -> None:
    decided: list[list[tuple[Outcome, float]]] = []
    for _ in range(ROUNDS):
        sim.cluster.inject("scale_to_zero", namespace="shop", deployment="catalog")
        for _ in range(60):
            sim.cluster.tick(15)
            if sim.cluster.firing_alerts():
                break
        handled = agent.pipeline.ingest_poll(json.dumps(sim.cluster.firing_alerts()))
        decided.append(
            [(h.evaluation.outcome, h.evaluation.risk.total if h.evaluation.risk else -1.0) for h in handled]
        )
        agent.executor.wait(timeout=60)
        for _ in range(20):  # the fix holds: the alerts resolve
            sim.cluster.tick(15)
            poll(agent, sim)
        sim.cluster.tick(3700)  # past the cooldown and the hourly budget
        assert poll(agent, sim) == []
    expected: list[list[tuple[Outcome, Any]]] = [[(Outcome.EXECUTE, pytest.approx(FIRST_SCORE))]] * ROUNDS
    assert decided == expected
    assert agent.store.incidents.active() == []
    assert agent.store.history.open_incidents() == 0
    assert len(agent.store.incidents.in_status(IncidentStatus.VERIFIED)) == ROUNDS
