"""Audit records of one kind, read through the kind index (checkpoint keys, for instance),
without walking the whole chain."""

from __future__ import annotations

from sqlmodel import col, select

from agent.cluster import DEFAULT_CLUSTER
from agent.store.database import Database, utc
from agent.store.records import AuditRecord
from agent.store.tables import AuditRow


class AuditKindIndex:
    """Reads audit records by kind, in seq order."""

    def __init__(self, db: Database, *, cluster: str = DEFAULT_CLUSTER) -> None:
        self._db = db
        self._cluster = cluster

    def records_of_kind(self, kind: str) -> list[AuditRecord]:
        """Every record of `kind`, oldest first (meant for rare kinds such as `checkpoint_key`)."""
        with self._db.session() as session:
            rows = session.exec(
                select(AuditRow)
                .where(AuditRow.cluster == self._cluster, AuditRow.kind == kind)
                .order_by(col(AuditRow.seq))
            ).all()
            return [
                AuditRecord(
                    seq=row.seq,
                    ts=utc(row.ts),
                    kind=row.kind,
                    actor=row.actor,
                    incident_id=row.incident_id,
                    payload=dict(row.payload),
                    prev_hash=row.prev_hash,
                    hash=row.hash,
                )
                for row in rows
            ]
