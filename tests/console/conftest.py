"""Console fixtures: a demo-like world served over HTTP (see tests/console/world.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.console.world import ConsoleWorld, console_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[ConsoleWorld]:
    """The sample estate, an agent on it, and its HTTP endpoint with the console mounted."""
    with console_world(tmp_path) as running:
        yield running
