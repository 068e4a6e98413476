"""Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it.

Only the leader acts; standbys keep serving HTTP. Leadership is judged locally and
conservatively: a replica that has not renewed its lease within `renew_deadline` stops
acting at once, before the lease expires for the others, so two replicas never both act
for longer than the executor's store claim already prevents.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from actions.kube import ConflictError, Kube, KubeError, NotFoundError

log = structlog.get_logger(__name__)


def _micro(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    text = value.replace("Z", "+00:00")
    return datetime.fromisoformat(text)


@dataclass(frozen=True)
class LeaseConfig:
    name: str
    namespace: str
    identity: str
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0


class LeaderElector:
    """Acquire and renew one Lease; `is_leader` is what the executor asks before acting."""

    def __init__(
        self,
        kube: Kube,
        config: LeaseConfig,
        *,
        clock: Callable[[], datetime],
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        self._kube = kube
        self._config = config
        self._clock = clock
        self._on_change = on_change
        self._last_renew: datetime | None = None
        self._leading = False
        self._reported = False
        """The leadership last told to `on_change`."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def identity(self) -> str:
        return self._config.identity

    @property
    def is_leader(self) -> bool:
        """True only while our last successful renewal is younger than the renew deadline."""
        if not self._leading or self._last_renew is None:
            return False
        return (self._clock() - self._last_renew).total_seconds() < self._config.renew_deadline

    def try_acquire_or_renew(self) -> bool:
        """One round of the election; returns whether this replica leads afterwards."""
        now = self._clock()
        cfg = self._config
        try:
            lease = self._kube.try_get("Lease", cfg.name, cfg.namespace)
            if lease is None:
                self._kube.create("Lease", self._lease_body(now, transitions=0), cfg.namespace)
                return self._set(True, now)
            spec = lease.get("spec") or {}
            holder = spec.get("holderIdentity")
            renewed = _parse(spec.get("renewTime")) or _parse(spec.get("acquireTime"))
            duration = float(spec.get("leaseDurationSeconds") or cfg.lease_duration)
            expired = renewed is None or now - renewed > timedelta(seconds=duration)
            if holder not in (cfg.identity, None, "") and not expired:
                return self._set(False, None)
            transitions = int(spec.get("leaseTransitions") or 0) + (0 if holder == cfg.identity else 1)
            body = self._lease_body(now, transitions=transitions)
            body["metadata"]["resourceVersion"] = lease["metadata"]["resourceVersion"]
            if holder == cfg.identity:
                body["spec"]["acquireTime"] = spec.get("acquireTime") or body["spec"]["acquireTime"]
            self._kube.replace("Lease", cfg.name, body, cfg.namespace)
            return self._set(True, now)
        except (ConflictError, NotFoundError):
            return self._set(False, None)
        except KubeError as exc:
            log.warning("leader_election_error", error=str(exc))
            return self.is_leader

    def _lease_body(self, now: datetime, *, transitions: int) -> dict[str, Any]:
        cfg = self._config
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": cfg.name, "namespace": cfg.namespace},
            "spec": {
                "holderIdentity": cfg.identity,
                "leaseDurationSeconds": int(cfg.lease_duration),
                "acquireTime": _micro(now),
                "renewTime": _micro(now),
                "leaseTransitions": transitions,
            },
        }

    def _set(self, leading: bool, renewed: datetime | None) -> bool:
        self._leading = leading
        if renewed is not None:
            self._last_renew = renewed
        now_leading = self.is_leader
        # Compare with what was last reported, not with `is_leader` a moment ago: leadership also
        # lapses silently when the renew deadline passes, and that loss must be reported too.
        if now_leading != self._reported:
            self._reported = now_leading
            log.info("leadership_changed", leading=now_leading, identity=self._config.identity)
            if self._on_change:
                self._on_change(now_leading)
        return now_leading

    def release(self) -> None:
        """Give the lease up on shutdown so a standby takes over without waiting for expiry."""
        if not self._leading:
            return
        cfg = self._config
        try:
            lease = self._kube.get("Lease", cfg.name, cfg.namespace)
            if (lease.get("spec") or {}).get("holderIdentity") == cfg.identity:
                lease["spec"]["holderIdentity"] = ""
                lease["spec"]["leaseDurationSeconds"] = 1
                self._kube.replace("Lease", cfg.name, lease, cfg.namespace)
        except KubeError as exc:
            log.warning("lease_release_failed", error=str(exc))
        self._set(False, None)

    def start(self) -> None:
        """Run the election loop in a daemon thread until `stop()`."""

        def loop() -> None:
            while not self._stop.is_set():
                self.try_acquire_or_renew()
                self._stop.wait(self._config.retry_period)

        self._thread = threading.Thread(target=loop, name="leader-election", daemon=True)
        self._thread.start()

    def stop(self, *, release: bool = True) -> None:
        """Stop renewing; release the Lease unless a write may still be on the wire (then it
        simply expires, and a standby takes over only after the lease duration)."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        if release:
            self.release()
        else:
            self._set(False, None)
