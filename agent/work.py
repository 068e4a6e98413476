"""The one bounded decision queue between the endpoints and the workers.

Endpoints authenticate, bound, validate and enqueue, then answer at once; deciding (planner,
LLM, probes, store) and Slack calls run here, on worker threads. Each lane has its own worker
and its own capacity, counted in units (alerts for the alert lanes, one per click), so a
hung LLM call can hold up alerts but never a Slack click, and a flood about objects that do
not exist (the `doubtful` lane) waits behind alerts about real targets instead of starving
them. A full lane refuses: the endpoint answers 429 with Retry-After (Alertmanager retries),
and the refusal is counted and audited; nothing is dropped silently.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import structlog

log = structlog.get_logger(__name__)


class Lane(StrEnum):
    """Where a job waits; lanes earlier in this list are served first by the shared worker."""

    CLICKS = "clicks"
    """Slack clicks and Undo: an answer is owed within seconds."""
    ALERTS = "alerts"
    """Alerts whose target is known to the cluster (or names none)."""
    DOUBTFUL = "doubtful"
    """Alerts about objects the cluster does not know: decided when the other lanes are idle."""


Job = Callable[[], None]

WORKERS: tuple[tuple[str, tuple[Lane, ...]], ...] = (
    ("clicks", (Lane.CLICKS,)),
    ("alerts", (Lane.ALERTS, Lane.DOUBTFUL)),
)
"""Each worker thread and the lanes it serves, in order."""


@dataclass(frozen=True, slots=True)
class QueueLimits:
    """Capacity of each lane, in units (alerts, or clicks)."""

    alerts: int = 20_000
    doubtful: int = 20_000
    clicks: int = 1_000
    slow_job_seconds: float = 30.0
    """A job running longer than this is logged as slow (threads cannot be pre-empted; the
    LLM and Slack clients carry their own timeouts)."""

    def of(self, lane: Lane) -> int:
        """The capacity of `lane`."""
        return {Lane.CLICKS: self.clicks, Lane.ALERTS: self.alerts, Lane.DOUBTFUL: self.doubtful}[lane]


@dataclass(slots=True)
class _Entry:
    job: Job
    units: int
    label: str


@dataclass
class QueueStats:
    """Counters for metrics and tests."""

    accepted: dict[Lane, int] = field(default_factory=lambda: dict.fromkeys(Lane, 0))
    refused: dict[Lane, int] = field(default_factory=lambda: dict.fromkeys(Lane, 0))
    done: dict[Lane, int] = field(default_factory=lambda: dict.fromkeys(Lane, 0))
    failed: int = 0
    slow: int = 0


class DecisionQueue:
    """Bounded lanes; one worker for clicks, one for alerts (real first, doubtful after)."""

    def __init__(
        self,
        limits: QueueLimits | None = None,
        *,
        on_failure: Callable[[str, BaseException], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits or QueueLimits()
        self.stats = QueueStats()
        self._lanes: dict[Lane, deque[_Entry]] = {lane: deque() for lane in Lane}
        self._units: dict[Lane, int] = dict.fromkeys(Lane, 0)
        self._running: dict[Lane, int] = dict.fromkeys(Lane, 0)
        lock = threading.Lock()
        self._cond = threading.Condition(lock)
        """Jobs done and stopping: what `join` and `stop` wait for."""
        self._wake: dict[Lane, threading.Condition] = {}
        """Each lane's worker waits on its own condition (one lock for all), so a job queued for
        one worker does not wake the other."""
        for _, lanes in WORKERS:
            wake = threading.Condition(lock)
            self._wake.update(dict.fromkeys(lanes, wake))
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._on_failure = on_failure
        self._monotonic = monotonic

    # --- producers -------------------------------------------------------------------

    def offer(self, lane: Lane, job: Job, *, units: int = 1, label: str = "") -> bool:
        """Enqueue `job` unless its lane is full (False: refuse the sender with 429/503).

        A batch bigger than a whole lane is still taken when the lane is empty, so no single
        legal batch is refused forever.
        """
        return self.offer_all(lane, [(job, units)], label=label)

    def offer_all(self, lane: Lane, jobs: list[tuple[Job, int]], *, label: str = "") -> bool:
        """Enqueue all of `jobs` (job, units) in `lane`, or none of them when they do not fit."""
        entries = [_Entry(job, max(1, units), label) for job, units in jobs]
        total = sum(entry.units for entry in entries)
        with self._cond:
            used = self._units[lane]
            if self._stopping or (used > 0 and used + total > self.limits.of(lane)):
                self.stats.refused[lane] += 1
                return False
            self._lanes[lane].extend(entries)
            self._units[lane] = used + total
            self.stats.accepted[lane] += 1
            self._wake[lane].notify()
            return True

    def depth(self, lane: Lane) -> int:
        """Units waiting in `lane`."""
        with self._cond:
            return self._units[lane]

    def retry_after_seconds(self) -> int:
        """What a refused sender is told to wait."""
        return 5

    # --- workers ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the click worker and the alert worker."""
        if self._threads:
            return
        for name, lanes in WORKERS:
            thread = threading.Thread(target=self._work, args=(lanes,), name=f"decide-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, *, timeout: float = 10.0) -> None:
        """Refuse new jobs, let the workers finish what is queued (up to `timeout`), stop."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            for wake in self._wake.values():
                wake.notify_all()
        deadline = self._monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - self._monotonic()))
        self._threads = []

    def join(self, timeout: float = 30.0) -> bool:
        """Wait until every lane is empty and no job runs; False on timeout."""
        deadline = self._monotonic() + timeout
        with self._cond:
            while any(self._units.values()) or any(self._running.values()):
                remaining = deadline - self._monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(timeout=min(remaining, 0.1))
        return True

    def run_pending(self) -> int:
        """Run everything queued on the calling thread (tests and one-shot commands)."""
        ran = 0
        while (taken := self._take((Lane.CLICKS, Lane.ALERTS, Lane.DOUBTFUL), block=False)) is not None:
            self._run(*taken)
            ran += 1
        return ran

    def _take(self, lanes: tuple[Lane, ...], *, block: bool) -> tuple[Lane, _Entry] | None:
        with self._cond:
            while True:
                for lane in lanes:
                    if self._lanes[lane]:
                        entry = self._lanes[lane].popleft()
                        self._running[lane] += 1
                        return lane, entry
                if self._stopping or not block:
                    return None
                self._wake[lanes[0]].wait(timeout=1.0)

    def _work(self, lanes: tuple[Lane, ...]) -> None:
        while (taken := self._take(lanes, block=True)) is not None:
            self._run(*taken)

    def _run(self, lane: Lane, entry: _Entry) -> None:
        started = self._monotonic()
        try:
            entry.job()
        except Exception as exc:  # task boundary: one job must not stop the worker
            self.stats.failed += 1
            log.exception("queued_job_failed", lane=lane.value, job=entry.label)
            if self._on_failure is not None:
                self._on_failure(entry.label, exc)
        finally:
            elapsed = self._monotonic() - started
            if elapsed > self.limits.slow_job_seconds:
                self.stats.slow += 1
                log.warning("queued_job_slow", lane=lane.value, job=entry.label, seconds=round(elapsed, 1))
            with self._cond:
                self._units[lane] -= entry.units
                self._running[lane] -= 1
                self.stats.done[lane] += 1
                self._cond.notify_all()
