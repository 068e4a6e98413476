"""Each replica's last report: leadership and the last poll's result (read by `scutum status`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from agent.cluster import DEFAULT_CLUSTER
from agent.store.database import Database, utc, utc_or_none
from agent.store.tables import ReplicaRow

DETAIL_CHARS = 2000


@dataclass(frozen=True)
class ReplicaReport:
    """What one replica said about itself, and when."""

    identity: str
    leading: bool
    updated_at: datetime
    polled_at: datetime | None = None
    poll_ok: bool = False
    poll_detail: str = ""


class ReplicaRepository:
    """Upserts and lists replica reports."""

    def __init__(self, db: Database, *, cluster: str = DEFAULT_CLUSTER) -> None:
        self._db = db
        self._cluster = cluster

    def report(
        self, identity: str, *, leading: bool, at: datetime, poll_ok: bool | None = None, poll_detail: str = ""
    ) -> None:
        """Record that `identity` leads (or not); with `poll_ok`, also its last poll's result."""
        with self._db.session(write_lock=True) as session:
            row = session.get(ReplicaRow, (self._cluster, identity)) or ReplicaRow(
                cluster=self._cluster, identity=identity, updated_at=at
            )
            row.leading, row.updated_at = leading, at
            if poll_ok is not None:
                row.polled_at, row.poll_ok, row.poll_detail = at, poll_ok, poll_detail[:DETAIL_CHARS]
            session.add(row)

    def list(self) -> list[ReplicaReport]:
        """Every replica's last report, the most recent first."""
        with self._db.session() as session:
            query = select(ReplicaRow).where(ReplicaRow.cluster == self._cluster)
            rows = session.exec(query.order_by(col(ReplicaRow.updated_at).desc()))
            return [
                ReplicaReport(
                    identity=r.identity,
                    leading=r.leading,
                    updated_at=utc(r.updated_at),
                    polled_at=utc_or_none(r.polled_at),
                    poll_ok=r.poll_ok,
                    poll_detail=r.poll_detail,
                )
                for r in rows
            ]
