"""The kill switch's stored state (one row per cluster: pausing one cluster pauses no other)."""

from __future__ import annotations

from datetime import datetime

from agent.cluster import DEFAULT_CLUSTER
from agent.store.database import Database, utc_or_none
from agent.store.records import ControlState
from agent.store.tables import ControlRow


class ControlRepository:
    """Reads and sets the kill switch."""

    def __init__(self, db: Database, *, cluster: str = DEFAULT_CLUSTER) -> None:
        self._db = db
        self._cluster = cluster

    def get(self) -> ControlState:
        """The current kill-switch state (not paused when never set)."""
        with self._db.session() as session:
            row = session.get(ControlRow, self._cluster)
            if row is None:
                return ControlState(paused=False)
            return ControlState(
                paused=row.paused, reason=row.reason, changed_by=row.changed_by, changed_at=utc_or_none(row.changed_at)
            )

    def set(self, *, paused: bool, reason: str, changed_by: str, at: datetime) -> ControlState:
        """Pause or resume; returns the new state."""
        with self._db.session(write_lock=True) as session:
            row = session.get(ControlRow, self._cluster) or ControlRow(cluster=self._cluster)
            row.paused, row.reason, row.changed_by, row.changed_at = paused, reason, changed_by, at
            session.add(row)
        return ControlState(paused=paused, reason=reason, changed_by=changed_by, changed_at=at)
