"""Clocks: the simulated cluster never reads the wall clock directly, so tests can drive time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock, optionally running faster than real time from a fixed start."""

    def __init__(self, speed: float = 1.0) -> None:
        self._speed = speed
        self._origin_wall = datetime.now(UTC)
        self._origin_sim = self._origin_wall
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            elapsed = datetime.now(UTC) - self._origin_wall
            return self._origin_sim + elapsed * self._speed

    def jump(self, seconds: float) -> datetime:
        """Move simulated time forward at once (e.g. so an estate has history before a fault)."""
        with self._lock:
            self._origin_sim += timedelta(seconds=seconds)
        return self.now()


class ManualClock:
    """A clock that moves only when told to: deterministic tests and benchmarks."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now


def rfc3339(moment: datetime) -> str:
    """Kubernetes' timestamp format: second precision, a literal Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
