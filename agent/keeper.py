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
from risk.sources import ChangeFeed, ClusterReader

log = structlog.get_logger(__name__)

KEPT_KINDS: tuple[str, ...] = ("Deployment", "StatefulSet", "DaemonSet", "ConfigMap", "Service")
"""What the keeper records (never Secrets)."""


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
    (no API call, work proportional to the changes); kinds the cache does not follow are listed
    live. Each resync writes its new versions in one transaction.
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
    ) -> None:
        self._store = store
        self._reader = reader
        self._namespaces = frozenset(namespaces)
        self._clock = clock
        self._keep = retention_count
        self._max_age = timedelta(seconds=retention_age_seconds)
        self._seen: dict[tuple[str, str, str], str] = {}
        """(kind, namespace, name) -> the resourceVersion last recorded: skips the store when unchanged."""
        self._cursors: dict[str, int] = {}
        """kind -> the watch cache's change cursor after the last successful resync."""
        self.live_lists = 0
        """Lists sent to the API server because the reader could not say what changed."""

    def resync(self) -> int:
        """Record what changed since the last pass (one transaction); returns how many versions were new."""
        now = self._clock()
        cursors: dict[str, int] = {}
        batch: list[tuple[tuple[str, str, str], str, dict[str, Any]]] = []
        for kind in KEPT_KINDS:
            for obj in self._changed(kind, cursors):
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
        self._cursors.update(cursors)
        return recorded

    def _changed(self, kind: str, cursors: dict[str, int]) -> list[dict[str, Any]]:
        """Objects of `kind` that may have changed: from the cache's change feed, else listed."""
        if isinstance(self._reader, ChangeFeed):
            found = self._reader.changed_since(kind, self._cursors.get(kind, 0))
            if found is not None:
                objects, cursors[kind] = found
                return objects
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
        """Apply the retention bounds."""
        return self._store.snapshots.prune(keep=self._keep, max_age=self._max_age, now=self._clock())
