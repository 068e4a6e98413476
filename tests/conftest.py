"""Project-wide fixtures: a simulated cluster served over HTTP, driven by a manual clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simcluster.clock import ManualClock
from simcluster.harness import RunningSim, running_sim


@pytest.fixture
def sim() -> Iterator[RunningSim]:
    """The sample estate served on a free port; tests advance time with `sim.cluster.tick(seconds)`."""
    with running_sim("sample", clock=ManualClock()) as running:
        yield running


@pytest.fixture
def bare_sim() -> Iterator[RunningSim]:
    """Three Ready nodes and nothing else, served on a free port, with a manual clock."""
    with running_sim("bare", clock=ManualClock()) as running:
        yield running
