"""A budget on notices posted to humans, so a flood of alerts is not a flood of Slack posts.

Within each interval the first `limit` notices are posted; the rest are counted, and the
next notice that is posted says how many were held back (every one is still in the audit
chain and the logs).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

ESCALATION_NOTICES_PER_MINUTE = 20
"""Escalation notices posted to Slack per minute; the rest are summarised in the next one."""


class NoticeBudget:
    """Counts notices per interval on the injected clock."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime],
        limit: int = ESCALATION_NOTICES_PER_MINUTE,
        interval: timedelta = timedelta(minutes=1),
    ) -> None:
        self._clock = clock
        self._limit = limit
        self._interval = interval
        self._started: datetime | None = None
        self._posted = 0
        self.held_back = 0
        """Notices not posted since the last one that was."""
        self._lock = threading.Lock()

    def take(self) -> int | None:
        """None when this notice must be held back; else how many were held back before it."""
        now = self._clock()
        with self._lock:
            if self._started is None or now - self._started >= self._interval:
                self._started, self._posted = now, 0
            if self._posted >= self._limit:
                self.held_back += 1
                return None
            self._posted += 1
            held, self.held_back = self.held_back, 0
            return held
