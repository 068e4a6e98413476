"""Honest health: readiness from real checks of the store, the API server and the scheduler, and
exponential backoff with jitter for the alert poll.

The checks run on the scheduler's thread (`HealthMonitor.check`), never on the HTTP event loop:
`/readyz` only reads their last results, so a slow database cannot stall the endpoint.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

log = structlog.get_logger(__name__)


@dataclass
class PollBackoff:
    """After each failed poll the next one waits twice as long (full jitter), from the poll
    interval up to `max_seconds`; a success resets it."""

    interval_seconds: float
    max_seconds: float
    monotonic: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0
    _next: float = 0.0

    def due(self) -> bool:
        """Whether the next poll may run now."""
        return self.monotonic() >= self._next

    def failed(self) -> float:
        """Record a failure; returns the wait before the next try."""
        self.failures += 1
        ceiling = min(self.max_seconds, self.interval_seconds * 2**self.failures)
        wait = self.interval_seconds + self.rng.uniform(0, max(0.0, ceiling - self.interval_seconds))
        self._next = self.monotonic() + wait
        return wait

    def succeeded(self) -> None:
        """Record a success: the next poll runs on the normal schedule."""
        self.failures = 0
        self._next = 0.0


Check = Callable[[], None]
"""Raises when the dependency is unhealthy."""


class HealthMonitor:
    """The last result of each named check; ready when all passed within `max_age_seconds`."""

    def __init__(
        self, checks: dict[str, Check], *, max_age_seconds: float, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._checks = checks
        self._max_age = max_age_seconds
        self._monotonic = monotonic
        self._results: dict[str, tuple[bool, str, float]] = {}
        self._lock = threading.Lock()

    def check(self) -> None:
        """Run every check once (a scheduler job)."""
        for name, check in self._checks.items():
            try:
                check()
                result = (True, "ok", self._monotonic())
            except Exception as exc:  # noqa: BLE001 - any failure of a dependency means not ready
                result = (False, f"{type(exc).__name__}: {exc}"[:300], self._monotonic())
                log.warning("health_check_failed", check=name, error=result[1])
            with self._lock:
                self._results[name] = result

    def report(self) -> dict[str, str]:
        """Each check's state: "ok", its error, or "stale"/"not checked yet"."""
        now = self._monotonic()
        with self._lock:
            results = dict(self._results)
        out = {}
        for name in self._checks:
            found = results.get(name)
            if found is None:
                out[name] = "not checked yet"
            elif now - found[2] > self._max_age:
                out[name] = "stale: last checked too long ago"
            else:
                out[name] = found[1]
        return out

    def ready(self) -> bool:
        """Whether every check passed recently."""
        return all(state == "ok" for state in self.report().values())
