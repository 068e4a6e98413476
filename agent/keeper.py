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
from risk.sources import ClusterReader

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
    """Reads the kept kinds (from the watch cache, so a resync costs no API calls) and
    stores each version it has not seen yet."""

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
        self._namespaces = tuple(namespaces)
        self._clock = clock
        self._keep = retention_count
        self._max_age = timedelta(seconds=retention_age_seconds)
        self._seen: dict[tuple[str, str, str], str] = {}
        """(kind, namespace, name) -> the resourceVersion last recorded: skips the store when unchanged."""

    def resync(self) -> int:
        """Record what changed since the last pass; returns how many versions were new."""
        now = self._clock()
        recorded = 0
        for kind in KEPT_KINDS:
            for namespace in self._namespaces or (None,):
                try:
                    objects = self._reader.list(kind, namespace)
                except KubeError as exc:
                    log.warning("snapshot_list_failed", kind=kind, namespace=namespace, error=str(exc))
                    continue
                for obj in objects:
                    meta = obj.get("metadata") or {}
                    key = (kind, str(meta.get("namespace", "")), str(meta.get("name", "")))
                    version = str(meta.get("resourceVersion", ""))
                    if self._seen.get(key) == version:
                        continue
                    obj.setdefault("kind", kind)
                    if self._store.snapshots.record(obj, observed_at=valid_from(obj, now)):
                        recorded += 1
                    self._seen[key] = version
        return recorded

    def prune(self) -> int:
        """Apply the retention bounds."""
        return self._store.snapshots.prune(keep=self._keep, max_age=self._max_age, now=self._clock())
