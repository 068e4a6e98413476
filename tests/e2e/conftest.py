"""End-to-end fixtures: one real Alertmanager per session, and a world per test.

Each test's alerts carry their own run label and its agents poll with that label as a filter,
so tests share one Alertmanager without seeing each other's alerts. Without the binary the
tests skip with how to install it; under CI=true they fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from simcluster.clock import ManualClock
from simcluster.harness import running_sim
from tests.agent.conftest import postgres_url  # noqa: F401 - a fixture, used by `database_url`
from tests.e2e.alertmanager import Alertmanager, AlertPusher, require_alertmanager
from tests.e2e.world import World


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything here drives whole incidents through the real Alertmanager."""
    for item in items:
        if "tests/e2e/" in item.nodeid.replace("\\", "/"):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.alertmanager)


@pytest.fixture(scope="session")
def alertmanager() -> Iterator[Alertmanager]:
    """The real Alertmanager, a null receiver, short timers, no gossip."""
    process = Alertmanager(require_alertmanager())
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


@pytest.fixture
def world(alertmanager: Alertmanager, tmp_path: Path) -> Iterator[World]:
    """The sample estate, settled with an hour of history, its alerts fed to Alertmanager."""
    with running_sim("sample", clock=ManualClock()) as sim:
        pusher = AlertPusher(sim.cluster, alertmanager, run=uuid4().hex[:12])
        world = World(sim, alertmanager, pusher, tmp_path)
        world.settle()
        try:
            yield world
        finally:
            world.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """The store agents share: None is SQLite in the world's data directory; or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("postgres_url"))
