"""The chaos suite's fixtures: a store URL on SQLite and on PostgreSQL, and a chaos world."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.chaos_world import Chaos, chaos
from tests.agent.conftest import postgres_url

__all__ = ["postgres_url"]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Chaos]:
    """A chaos world on SQLite."""
    with chaos(tmp_path) as running:
        yield running


@pytest.fixture
def pg_world(tmp_path: Path, postgres_url: str) -> Iterator[Chaos]:
    """A chaos world on PostgreSQL (several replicas share it)."""
    with chaos(tmp_path, postgres_url) as running:
        yield running
