"""The simulated cluster: the object store plus the controllers, faults and alert rules
that make it behave like a small real cluster.

Everything is driven by `tick`/`run_controllers`, and time is read only from the clock, so the
same seed, clock and calls always produce the same state.
"""

from __future__ import annotations

from typing import Any

from simcluster.clock import Clock, ManualClock
from simcluster.controllers import Context, run_all
from simcluster.controllers.services import check_eviction
from simcluster.store import ObjectStore


class SimCluster:
    """A deterministic simulated Kubernetes cluster."""

    def __init__(self, clock: Clock | None = None, *, seed: int = 0, alert_pending_seconds: float = 60.0) -> None:
        self.clock: Clock = clock if clock is not None else ManualClock()
        self.seed = seed
        self.store = ObjectStore(self.clock, uid_seed=seed)
        self.alert_pending_seconds = alert_pending_seconds
        self._context = Context(self.store, self.clock.now())

    def tick(self, seconds: float = 1.0) -> None:
        """Advance a ManualClock by `seconds` (if it is one) and run every controller once."""
        if isinstance(self.clock, ManualClock):
            self.clock.advance(seconds)
        self.run_controllers()

    def run_controllers(self) -> None:
        """One pass of every controller at the current clock time; the clock does not move."""
        with self.store.lock:
            self._context.now = self.clock.now()
            run_all(self._context)

    def inject(self, fault: str, **params: Any) -> dict[str, Any]:
        """Apply a named fault; returns a description. ValueError for an unknown fault or bad params."""
        raise ValueError(f"unknown fault {fault!r}")

    def faults(self) -> list[dict[str, Any]]:
        """The fault catalogue: name, summary, params."""
        return []

    def firing_alerts(self) -> list[dict[str, Any]]:
        """Firing alerts as Alertmanager API v2 `GettableAlert` objects."""
        return []

    def load_estate(self, name: str = "sample") -> None:
        """Create the objects of a named estate: "sample" or "bare"."""
        if name not in ("sample", "bare"):
            raise ValueError(f"unknown estate {name!r}")

    def evict(self, namespace: str, name: str, dry_run: bool = False) -> None:
        """Evict a pod as the Eviction API does; errors.TooManyRequests when a PDB forbids it."""
        with self.store.lock:
            pod = self.store.get("Pod", namespace, name)
            self._context.now = self.clock.now()
            check_eviction(self._context, pod)
            self.store.delete("Pod", namespace, name, dry_run=dry_run)
