"""Per-source rate limits on the HTTP endpoints: a token bucket per peer address.

Checked before a body is read, so a source sending faster than its share gets 429 (with
Retry-After) and costs almost nothing. The table of sources is bounded: when it is full the
least recently seen source is forgotten.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

MAX_SOURCES = 10_000
"""Sources tracked at once; the least recently seen is forgotten first."""


class RateLimiter:
    """`rate` requests a second per source, with bursts up to `burst`; rate 0 turns it off."""

    def __init__(self, *, rate: float, burst: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._burst = max(1.0, burst)
        self._monotonic = monotonic
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, source: str) -> bool:
        """Take one token for `source`; False when it has none left."""
        if self._rate <= 0:
            return True
        now = self._monotonic()
        with self._lock:
            tokens, last = self._buckets.pop(source, (self._burst, now))
            tokens = min(self._burst, tokens + (now - last) * self._rate)
            allowed = tokens >= 1.0
            self._buckets[source] = (tokens - 1.0 if allowed else tokens, now)
            while len(self._buckets) > MAX_SOURCES:
                self._buckets.popitem(last=False)
            return allowed

    def retry_after_seconds(self) -> int:
        """How long a limited source is told to wait."""
        return max(1, int(1 / self._rate)) if self._rate > 0 else 1
