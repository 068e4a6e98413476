"""Which alerts name an object the cluster knows: the decision queue serves those first.

An alert is a claim; the cluster is the fact. Alerts whose target is missing from the watch
cache (or whose namespace is) still get decided, in the `doubtful` lane, after alerts about
real targets, so a flood about objects that do not exist cannot starve genuine incidents.
Only cached kinds are judged here (an in-memory lookup); anything else counts as real.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from agent.intake.alerts import Alert, ParsedBatch
from agent.planning.targets import target_from_labels


class Holdings(Protocol):
    """What triage reads: whether an object exists (`risk.cache.ClusterCache.holds`)."""

    def holds(self, kind: str, name: str, namespace: str | None = None) -> bool:
        """Whether the object exists, without reading it whole."""
        ...


class TargetTriage:
    """Splits batches by whether their targets exist, reading only the watch cache."""

    def __init__(self, reader: Holdings, *, cached_kinds: Collection[str]) -> None:
        self._reader = reader
        self._kinds = frozenset(cached_kinds)

    def known(self, alert: Alert) -> bool:
        """False when the alert names an object (or a namespace) the cache does not hold."""
        target = target_from_labels(alert.labels)
        if target is None:
            return True
        namespaced = target.namespace is not None and "Namespace" in self._kinds
        if namespaced and not self._reader.holds("Namespace", target.namespace or ""):
            return False
        if target.kind not in self._kinds:
            return True
        return self._reader.holds(target.kind, target.name, target.namespace)

    def split(self, batch: ParsedBatch) -> tuple[ParsedBatch, ParsedBatch]:
        """(alerts about known targets with the batch's rejections, alerts about unknown ones)."""
        real: list[Alert] = []
        doubtful: list[Alert] = []
        for alert in batch.alerts:
            (real if self.known(alert) else doubtful).append(alert)
        return (
            ParsedBatch(real, batch.rejected, batch.malformed, batch.filtered),
            ParsedBatch(doubtful),
        )
