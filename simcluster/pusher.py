"""Push the simulated cluster's firing alerts to a real Alertmanager, as Prometheus does.

Prometheus re-sends every firing alert on each evaluation with `endsAt` a few intervals
ahead; Alertmanager resolves an alert whose `endsAt` passes without a refresh, and an alert
that stops firing is sent once more with `endsAt` set to now. `endsAt` is on Alertmanager's
clock (the wall clock), whatever the simulated cluster's clock says.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from simcluster.clock import rfc3339

Obj = dict[str, Any]


def wall_now() -> datetime:
    return datetime.now(UTC)


def postable(alert: Obj, *, ends_at: datetime, extra_labels: Mapping[str, str] | None = None) -> Obj:
    """A GettableAlert from the rule engine as a PostableAlert for `POST /api/v2/alerts`."""
    return {
        "labels": {**alert["labels"], **(extra_labels or {})},
        "annotations": alert.get("annotations") or {},
        "startsAt": alert["startsAt"],
        "endsAt": rfc3339(ends_at),
        "generatorURL": alert.get("generatorURL") or "",
    }


def alert_batch(
    firing: list[Obj],
    previous: Mapping[str, Obj],
    *,
    now: datetime,
    hold: timedelta,
    extra_labels: Mapping[str, str] | None = None,
) -> tuple[list[Obj], dict[str, Obj]]:
    """What to POST now: each firing alert held until `now + hold`, and each alert of `previous`
    that no longer fires ended at `now`. Returns the batch and the firing alerts by fingerprint
    (the next call's `previous`)."""
    current = {a["fingerprint"]: a for a in firing}
    batch = [postable(a, ends_at=now + hold, extra_labels=extra_labels) for a in current.values()]
    batch += [postable(a, ends_at=now, extra_labels=extra_labels) for fp, a in previous.items() if fp not in current]
    return batch, current


class AlertPusher:
    """Sends firing alerts (and resolutions) to one Alertmanager URL."""

    def __init__(
        self,
        url: str,
        alerts: Callable[[], list[Obj]],
        *,
        wall: Callable[[], datetime] = wall_now,
        resend_seconds: float = 60.0,
        timeout: float = 5.0,
        extra_labels: Mapping[str, str] | None = None,
    ) -> None:
        self._endpoint = url.rstrip("/") + "/api/v2/alerts"
        self._alerts = alerts
        self._wall = wall
        self._hold = timedelta(seconds=4 * resend_seconds)
        self._timeout = timeout
        self._extra = dict(extra_labels or {})
        self._firing: dict[str, Obj] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors = 0

    def push_once(self) -> int:
        """Send what fires now and resolve what stopped; returns how many alerts were sent."""
        batch, self._firing = alert_batch(
            self._alerts(), self._firing, now=self._wall(), hold=self._hold, extra_labels=self._extra
        )
        if batch:
            self._post(batch)
        return len(batch)

    def _post(self, batch: list[Obj]) -> None:
        request = urllib.request.Request(  # noqa: S310 - a URL the operator configured
            self._endpoint,
            data=json.dumps(batch).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout):  # noqa: S310
                pass
        except (urllib.error.URLError, OSError):
            self.errors += 1

    def start(self, interval: float) -> None:
        """Push every `interval` wall seconds in a daemon thread until `stop()`."""

        def loop() -> None:
            while not self._stop.wait(interval):
                self.push_once()

        self._thread = threading.Thread(target=loop, name="alert-pusher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
