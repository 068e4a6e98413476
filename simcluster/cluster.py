"""The simulated cluster: the object store plus the controllers, faults and alert rules
that make it behave like a small real cluster.

Everything is driven by `tick`/`run_controllers`, and time is read only from the clock, so the
same seed, clock and calls always produce the same state.
"""

from __future__ import annotations

from typing import Any

from simcluster import estate, faults
from simcluster.alerts import AlertEngine
from simcluster.clock import Clock, ManualClock
from simcluster.controllers import Context, run_all
from simcluster.controllers.services import check_eviction
from simcluster.defaults import apply_defaults
from simcluster.store import ObjectStore


class SimCluster:
    """A deterministic simulated Kubernetes cluster.

    `alert_pending_seconds` caps every rule's `for` period (the rule table keeps the mixin's
    real values); None uses the real ones.
    """

    def __init__(
        self, clock: Clock | None = None, *, seed: int = 0, alert_pending_seconds: float | None = 60.0
    ) -> None:
        self.clock: Clock = clock if clock is not None else ManualClock()
        self.seed = seed
        self.store = ObjectStore(self.clock, uid_seed=seed)
        self.store.add_admission(apply_defaults)
        self.alerts = AlertEngine(alert_pending_seconds)
        self._context = Context(self.store, self.clock.now())

    @property
    def manual_time(self) -> bool:
        """True when time moves only by `tick` (a ManualClock)."""
        return isinstance(self.clock, ManualClock)

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
            self.alerts.evaluate(self.store, self._context.now)

    def settle(self, passes: int = 5, seconds: float = 1.0) -> None:
        """Tick a few times so freshly created objects reach their steady state."""
        for _ in range(passes):
            self.tick(seconds)

    def inject(self, fault: str, **params: Any) -> dict[str, Any]:
        """Apply a named fault; returns a description. ValueError for an unknown fault or bad params."""
        with self.store.lock:
            return faults.inject(self.store, fault, params)

    def faults(self) -> list[dict[str, Any]]:
        """The fault catalogue: name, summary, params."""
        return faults.catalogue()

    def firing_alerts(self) -> list[dict[str, Any]]:
        """Firing alerts as Alertmanager API v2 `GettableAlert` objects."""
        with self.store.lock:
            now = self.clock.now()
            self.alerts.evaluate(self.store, now)
            return self.alerts.firing(now)

    def load_estate(self, name: str = "sample") -> None:
        """Create the objects of a named estate: "sample" or "bare"."""
        with self.store.lock:
            estate.load(self.store, name)

    def evict(self, namespace: str, name: str, dry_run: bool = False) -> None:
        """Evict a pod as the Eviction API does; errors.TooManyRequests when a PDB forbids it."""
        with self.store.lock:
            pod = self.store.get("Pod", namespace, name)
            self._context.now = self.clock.now()
            check_eviction(self._context, pod)
            self.store.delete("Pod", namespace, name, dry_run=dry_run)
