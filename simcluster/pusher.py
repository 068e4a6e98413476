"""Push the simulated cluster's firing alerts to a real Alertmanager, as Prometheus does.

Prometheus re-sends every firing alert on each evaluation with `endsAt` a few intervals
ahead; Alertmanager resolves an alert whose `endsAt` passes without a refresh, and an alert
that stops firing is sent once more with `endsAt` set to now.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from simcluster.clock import rfc3339

Obj = dict[str, Any]


def postable(alert: Obj, *, ends_at: datetime) -> Obj:
    """A GettableAlert from the rule engine as a PostableAlert for `POST /api/v2/alerts`."""
    return {
        "labels": alert["labels"],
        "annotations": alert.get("annotations") or {},
        "startsAt": alert["startsAt"],
        "endsAt": rfc3339(ends_at),
        "generatorURL": alert.get("generatorURL") or "",
    }


class AlertPusher:
    """Sends firing alerts (and resolutions) to one Alertmanager URL."""

    def __init__(
        self,
        url: str,
        alerts: Callable[[], list[Obj]],
        *,
        clock: Callable[[], datetime],
        resend_seconds: float = 60.0,
        timeout: float = 5.0,
    ) -> None:
        self._endpoint = url.rstrip("/") + "/api/v2/alerts"
        self._alerts = alerts
        self._clock = clock
        self._resend = timedelta(seconds=resend_seconds)
        self._timeout = timeout
        self._firing: dict[str, Obj] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors = 0

    def push_once(self) -> int:
        """Send what fires now and resolve what stopped; returns how many alerts were sent."""
        now = self._clock()
        current = {a["fingerprint"]: a for a in self._alerts()}
        batch = [postable(a, ends_at=now + 4 * self._resend) for a in current.values()]
        batch += [postable(a, ends_at=now) for fp, a in self._firing.items() if fp not in current]
        self._firing = current
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
