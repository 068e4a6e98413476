"""The snapshot keeper: records every version of the workloads, ConfigMaps and Services of the
managed namespaces, so rollback and restores have a last-known-good copy to go back to.

Secrets are never read, let alone recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog

from actions.kube import KubeError
from agent.store import Store
from risk.cache import collection_paused
from risk.sources import ChangeFeed, ClusterReader

log = structlog.get_logger(__name__)

KEPT_KINDS: tuple[str, ...] = ("Deployment", "StatefulSet", "DaemonSet", "ConfigMap", "Service")
"""What the keeper records (never Secrets)."""
STEP = 1000
"""Objects read and recorded per step (one transaction each): the first pass walks every kept
object, and a step's worth is all it holds decoded at once."""


def valid_from(obj: dict[str, Any], now: datetime) -> datetime:
    """Since when this version has been current: its last write (managedFields) or creation.

    Recording that instead of the moment the keeper saw it means an object that did not change
    between the agent's start and an incident still has a version from "before the incident".
    """
    meta = obj.get("metadata") or {}
    stamps = [meta.get("creationTimestamp")] + [e.get("time") for e in meta.get("managedFields") or []]
    times = []
    for stamp in stamps:
        if isinstance(stamp, str) and stamp:
            try:
                times.append(datetime.fromisoformat(stamp.replace("Z", "+00:00")))
            except ValueError:
                continue
    newest = max(times, default=now)
    return min(newest, now)


class SnapshotKeeper:
    """Stores each version of the kept kinds it has not seen yet.

    With the watch cache as reader, a resync asks the cache what changed since the last one
    (no API call, work proportional to the changes) in steps of `STEP` objects, each recorded in
    one transaction, after which the kind's cursor moves on: a failed step is read again by the
    next pass. Kinds the cache does not follow are listed live, and recorded in the same steps.
    """

    def __init__(
        self,
        store: Store,
        reader: ClusterReader,
        *,
        namespaces: Sequence[str],
        clock: Callable[[], datetime],
        retention_count: int,
        retention_age_seconds: float,
        step: int = STEP,
    ) -> None:
        self._store = store
        self._reader = reader
        self._namespaces = frozenset(namespaces)
        self._clock = clock
        self._keep = retention_count
        self._max_age = timedelta(seconds=retention_age_seconds)
        self._step = step
        self._seen: dict[tuple[str, str, str], str] = {}
        """(kind, namespace, name) -> the resourceVersion last recorded: skips the store when unchanged."""
        self._cursors: dict[str, int] = {}
        """kind -> the watch cache's change cursor after the last step recorded."""
        self.live_lists = 0
        """Lists sent to the API server because the reader could not say what changed."""
        self._unpruned: set[tuple[str, str, str]] | None = None
        """Objects recorded since the last prune: the only ones whose history can have grown
        past the bound. None until the first prune, which looks at every history."""

    def resync(self) -> int:
        """Record what changed since the last pass, a step at a time; returns how many versions were new."""
        now = self._clock()
        recorded = 0
        for kind in KEPT_KINDS:
            if isinstance(self._reader, ChangeFeed):
                fed = self._resync_fed(self._reader, kind, now)
                if fed is not None:
                    recorded += fed
                    continue
            listed = self._listed(kind)
            for start in range(0, len(listed), self._step):
                with collection_paused():
                    recorded += self._record(kind, listed[start : start + self._step], now)
        return recorded

    def _resync_fed(self, feed: ChangeFeed, kind: str, now: datetime) -> int | None:
        """Walk the change feed from the kind's cursor in steps; None when the feed does not follow it."""
        recorded = 0
        while True:
            with collection_paused():
                found = feed.changed_since(kind, self._cursors.get(kind, 0), limit=self._step)
                if found is None:
                    return None
                objects, cursor = found
                recorded += self._record(kind, objects, now)
            self._cursors[kind] = cursor
            if len(objects) < self._step:
                return recorded

    def _record(self, kind: str, objects: list[dict[str, Any]], now: datetime) -> int:
        """One transaction for the versions among `objects` not recorded yet."""
        batch: list[tuple[tuple[str, str, str], str, dict[str, Any]]] = []
        for obj in objects:
            meta = obj.get("metadata") or {}
            key = (kind, str(meta.get("namespace", "")), str(meta.get("name", "")))
            if self._namespaces and key[1] not in self._namespaces:
                continue
            version = str(meta.get("resourceVersion", ""))
            if self._seen.get(key) == version:
                continue
            batch.append((key, version, obj if obj.get("kind") else {**obj, "kind": kind}))
        recorded = self._store.snapshots.record_many([(obj, valid_from(obj, now)) for _, _, obj in batch])
        for key, version, _ in batch:
            self._seen[key] = version
        if self._unpruned is not None:
            self._unpruned.update(key for key, _, _ in batch)
        return recorded

    def _listed(self, kind: str) -> list[dict[str, Any]]:
        """Every object of `kind` in the managed namespaces, listed live."""
        out: list[dict[str, Any]] = []
        namespaces: list[str | None] = [*sorted(self._namespaces)] or [None]
        for namespace in namespaces:
            self.live_lists += 1
            try:
                out.extend(self._reader.list(kind, namespace))
            except KubeError as exc:
                log.warning("snapshot_list_failed", kind=kind, namespace=namespace, error=str(exc))
        return out

    def prune(self) -> int:
        """Apply the retention bounds: the age bound to every history, the count bound to the
        objects recorded since the last prune (to every object the first time)."""
        objects, self._unpruned = self._unpruned, set()
        try:
            return self._store.snapshots.prune(
                keep=self._keep, max_age=self._max_age, now=self._clock(), objects=objects
            )
        except Exception:
            self._unpruned = None if objects is None else objects | self._unpruned
            raise
