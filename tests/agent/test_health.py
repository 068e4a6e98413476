"""Readiness from real checks, and exponential backoff with jitter for the alert poll."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from agent.health import HealthMonitor, PollBackoff


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@given(failures=st.integers(1, 30), seed=st.integers(0, 1000))
def test_backoff_grows_within_bounds_and_resets(failures: int, seed: int) -> None:
    clock = Clock()
    backoff = PollBackoff(2.0, 60.0, monotonic=clock, rng=random.Random(seed))
    waits = [backoff.failed() for _ in range(failures)]
    assert all(2.0 <= w <= 60.0 for w in waits)
    assert not backoff.due()
    clock.now += waits[-1]
    assert backoff.due()
    backoff.succeeded()
    assert backoff.due() and backoff.failures == 0


def test_backoff_ceiling_doubles_per_failure() -> None:
    backoff = PollBackoff(1.0, 100.0, monotonic=Clock(), rng=random.Random(0))
    assert max(backoff.failed() for _ in range(1)) <= 2.0
    assert backoff.failed() <= 4.0
    assert backoff.failed() <= 8.0


def test_readiness_follows_the_checks_and_goes_stale() -> None:
    clock = Clock()
    store_up = [True]

    def store() -> None:
        if not store_up[0]:
            raise ConnectionError("database unreachable")

    monitor = HealthMonitor({"store": store, "api_server": lambda: None}, max_age_seconds=10, monotonic=clock)
    assert not monitor.ready() and monitor.report()["store"] == "not checked yet"
    monitor.check()
    assert monitor.ready()
    store_up[0] = False
    monitor.check()
    assert not monitor.ready() and "database unreachable" in monitor.report()["store"]
    store_up[0] = True
    monitor.check()
    clock.now += 11  # the checks stopped running (the scheduler is stuck)
    assert not monitor.ready() and monitor.report()["api_server"].startswith("stale")


def test_readyz_answers_503_with_the_failing_check() -> None:
    from agent.http import build_http_app

    monitor = HealthMonitor({"store": lambda: (_ for _ in ()).throw(OSError("down"))}, max_age_seconds=10)
    monitor.check()
    app = build_http_app(
        pipeline=None,  # type: ignore[arg-type]
        metrics_text=lambda: b"",
        is_leader=lambda: True,
        is_ready=monitor.ready,
        readiness=monitor.report,
        clock=lambda: None,  # type: ignore[arg-type,return-value]
    )
    response = TestClient(app).get("/readyz")
    assert response.status_code == 503
    assert response.text.splitlines() == ["not ready", "store: OSError: down"]
