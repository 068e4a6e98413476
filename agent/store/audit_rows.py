"""Storage of the audit chain. Hashing and verification live in agent.audit; this module
only serializes appends so the chain never forks, and reads records back in order."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from sqlmodel import col, select

from agent.store.audit_head import advance_head, lock_head
from agent.store.database import Database, utc
from agent.store.records import AuditHead, AuditRecord
from agent.store.tables import AuditHeadRow, AuditRow

PAGE = 1000


class AuditRepository:
    """Append-only audit records and the chain head."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def append(self, build: Callable[[AuditHead], AuditRecord]) -> AuditRecord:
        """Append the record `build` makes from the current head, holding the chain's lock.

        The head row is locked (FOR UPDATE on PostgreSQL; BEGIN IMMEDIATE on SQLite) so no two
        writers, threads or processes, ever build on the same head; the primary key on seq is a
        backstop.
        """
        return self.append_many([build])[0]

    def append_many(self, builds: Sequence[Callable[[AuditHead], AuditRecord]]) -> list[AuditRecord]:
        """Append several records in one transaction (one decision's records), in order."""
        records: list[AuditRecord] = []
        with self._db.session(write_lock=True) as session:
            if self._db.is_postgres:  # the head moves only through the owner's functions
                locked = lock_head(session)
                head_row = AuditHeadRow(id=1, seq=locked.seq, hash=locked.hash)
            else:
                stored = session.exec(select(AuditHeadRow).where(AuditHeadRow.id == 1)).first()
                head_row = stored or AuditHeadRow(id=1, seq=0, hash="")
            for build in builds:
                record = build(AuditHead(seq=head_row.seq, hash=head_row.hash))
                if record.seq != head_row.seq + 1 or record.prev_hash != head_row.hash:
                    raise ValueError("audit record does not extend the current head")
                session.add(
                    AuditRow(
                        seq=record.seq,
                        ts=record.ts,
                        kind=record.kind,
                        actor=record.actor,
                        incident_id=record.incident_id,
                        payload=record.payload,
                        prev_hash=record.prev_hash,
                        hash=record.hash,
                    )
                )
                head_row.seq, head_row.hash = record.seq, record.hash
                records.append(record)
            if self._db.is_postgres:
                if records:
                    advance_head(session, AuditHead(seq=head_row.seq, hash=head_row.hash))
            else:
                session.add(head_row)
        return records

    def head(self) -> AuditHead:
        """The last seq and hash as the head row records them."""
        with self._db.session() as session:
            row = session.get(AuditHeadRow, 1)
            return AuditHead(seq=row.seq, hash=row.hash) if row else AuditHead(seq=0, hash="")

    def records(self) -> Iterator[AuditRecord]:
        """Every record in seq order, read in pages."""
        after = 0
        while True:
            with self._db.session() as session:
                rows = session.exec(
                    select(AuditRow).where(col(AuditRow.seq) > after).order_by(col(AuditRow.seq)).limit(PAGE)
                ).all()
                page = [_record(r) for r in rows]
            yield from page
            if len(page) < PAGE:
                return
            after = page[-1].seq


def _record(row: AuditRow) -> AuditRecord:
    return AuditRecord(
        seq=row.seq,
        ts=utc(row.ts),
        kind=row.kind,
        actor=row.actor,
        incident_id=row.incident_id,
        payload=dict(row.payload),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )
