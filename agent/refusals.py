"""Every refusal leaves evidence, without letting noise fill the audit chain.

A refusal of an authenticated party (a signed Slack click by someone not allowed, a replay
of a valid request) is one record each. Unauthenticated noise (bad signature, missing token,
a body that is not JSON, a full queue) is aggregated: the first refusal per (endpoint,
source, reason) in an interval is recorded at once, the rest are counted and summarised in
one record when the interval ends. Header and body excerpts are cleaned and truncated.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from actions.untrusted import clean_text
from agent.audit import AuditKind, AuditLog

MAX_DETAIL_CHARS = 200
"""Longest header value or excerpt stored in a refusal record."""
MAX_TRACKED_SOURCES = 1000
"""Distinct (endpoint, source, reason) keys tracked per interval; beyond it sources share one key."""

Key = tuple[str, str, str]


@dataclass(slots=True)
class _Window:
    started: datetime
    count: int
    kind: AuditKind


def short(value: object) -> str:
    """A detail value as stored: cleaned, at most MAX_DETAIL_CHARS."""
    return clean_text(str(value), limit=MAX_DETAIL_CHARS)


class RefusalLog:
    """Records refusals in the audit chain (aggregated for unauthenticated noise) and counts them."""

    def __init__(
        self,
        audit: AuditLog,
        *,
        clock: Callable[[], datetime],
        interval: timedelta = timedelta(seconds=60),
        count: Callable[[str, str], None] | None = None,
    ) -> None:
        self._audit = audit
        self._clock = clock
        self._interval = interval
        self._count = count
        self._windows: dict[Key, _Window] = {}
        self._lock = threading.Lock()

    def refuse(
        self,
        *,
        endpoint: str,
        source: str,
        reason: str,
        details: Mapping[str, object] | None = None,
        kind: AuditKind = AuditKind.ALERT,
        aggregate: bool = True,
    ) -> None:
        """Record one refusal; `aggregate=False` for a refusal of an authenticated party."""
        if self._count is not None:
            self._count(endpoint, reason)
        payload: dict[str, Any] = {
            "refused": True,
            "endpoint": endpoint,
            "source": short(source),
            "reason": short(reason),
            **{name: short(value) for name, value in (details or {}).items()},
        }
        if not aggregate:
            self._audit.append(kind, actor=payload["source"], payload=payload)
            return
        now = self._clock()
        first = False
        with self._lock:
            due = self._due(now)
            key = self._key(endpoint, payload["source"], reason)
            window = self._windows.get(key)
            if window is None:
                self._windows[key] = _Window(now, 1, kind)
                first = True
            else:
                window.count += 1
        self._write_summaries(due, now)
        if first:
            self._audit.append(kind, actor=payload["source"], payload={**payload, "aggregated_for": self._seconds()})

    def flush(self, *, force: bool = False) -> int:
        """Write the summaries of intervals that have ended (all of them with `force`)."""
        now = self._clock()
        with self._lock:
            due = self._due(now, force=force)
        self._write_summaries(due, now)
        return len(due)

    def _seconds(self) -> float:
        return self._interval.total_seconds()

    def _key(self, endpoint: str, source: str, reason: str) -> Key:
        key = (endpoint, source, reason)
        if key in self._windows or len(self._windows) < MAX_TRACKED_SOURCES:
            return key
        return (endpoint, "many sources", reason)

    def _due(self, now: datetime, *, force: bool = False) -> list[tuple[Key, _Window]]:
        due = [(k, w) for k, w in self._windows.items() if force or now - w.started >= self._interval]
        for key, _ in due:
            del self._windows[key]
        return due

    def _write_summaries(self, due: list[tuple[Key, _Window]], now: datetime) -> None:
        for (endpoint, source, reason), window in due:
            if window.count <= 1:
                continue
            payload = {
                "refused": True,
                "endpoint": endpoint,
                "source": source,
                "reason": reason,
                "repeats": window.count - 1,
                "from": window.started.isoformat(),
                "to": now.isoformat(),
            }
            self._audit.append(window.kind, actor=source, payload=payload)
