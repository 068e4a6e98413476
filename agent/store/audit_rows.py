"""Storage of the audit chain. Hashing and verification live in agent.audit; this module
only serializes appends so the chain never forks, and reads records back in order."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, String, insert, type_coerce
from sqlalchemy import select as rows_of
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col

from agent.cluster import DEFAULT_CLUSTER
from agent.store.audit_head import advance_head, lock_head
from agent.store.database import Database, utc
from agent.store.records import AuditHead, AuditLink, AuditRecord
from agent.store.tables import AuditHeadRow, AuditRow

PAGE = 5000
"""Records per read when streaming the chain."""


class AuditRepository:
    """Append-only audit records and the chain head of one cluster (each has its own chain)."""

    def __init__(self, db: Database, *, cluster: str = DEFAULT_CLUSTER) -> None:
        self._db = db
        self._cluster = cluster

    @property
    def cluster(self) -> str:
        """The cluster whose chain this is."""
        return self._cluster

    def append(self, build: Callable[[AuditHead], AuditRecord]) -> AuditRecord:
        """Append the record `build` makes from the current head, holding the chain's lock.

        The head row is locked (FOR UPDATE on PostgreSQL; BEGIN IMMEDIATE on SQLite) so no two
        writers, threads or processes, ever build on the same head; the primary key on seq is a
        backstop.
        """
        return self.append_many([build])[0]

    def append_many(self, builds: Sequence[Callable[[AuditHead], AuditRecord]]) -> list[AuditRecord]:
        """Append several records in one transaction (one decision's records), in order: one
        multi-row INSERT and one head update, with no ORM objects (a decision's records are
        most of its writes)."""
        records: list[AuditRecord] = []
        with self._db.session(write_lock=True) as session:
            conn = session.connection()
            if self._db.is_postgres:  # the head moves only through the owner's functions
                head = lock_head(session, self._cluster)
            else:
                stored = conn.execute(
                    rows_of(col(AuditHeadRow.seq), col(AuditHeadRow.hash)).where(
                        col(AuditHeadRow.cluster) == self._cluster
                    )
                ).first()
                head = AuditHead(seq=stored[0], hash=stored[1]) if stored else AuditHead(seq=0, hash="")
            for build in builds:
                record = build(head)
                if record.seq != head.seq + 1 or record.prev_hash != head.hash:
                    raise ValueError("audit record does not extend the current head")
                head = AuditHead(seq=record.seq, hash=record.hash)
                records.append(record)
            if not records:
                return records
            conn.execute(insert(AuditRow), [self._values(record) for record in records])
            if self._db.is_postgres:
                advance_head(session, self._cluster, head)
            else:  # the cluster's first append creates its head
                conn.execute(
                    sqlite_insert(AuditHeadRow)
                    .values(cluster=self._cluster, seq=head.seq, hash=head.hash)
                    .on_conflict_do_update(index_elements=["cluster"], set_={"seq": head.seq, "hash": head.hash})
                )
        return records

    def _values(self, record: AuditRecord) -> dict[str, Any]:
        return {
            "cluster": self._cluster,
            "seq": record.seq,
            "ts": record.ts,
            "kind": record.kind,
            "actor": record.actor,
            "incident_id": record.incident_id,
            "payload": record.payload,
            "prev_hash": record.prev_hash,
            "hash": record.hash,
        }

    def head(self) -> AuditHead:
        """The last seq and hash as the head row records them."""
        with self._db.session() as session:
            row = session.get(AuditHeadRow, self._cluster)
            return AuditHead(seq=row.seq, hash=row.hash) if row else AuditHead(seq=0, hash="")

    def records(self) -> Iterator[AuditRecord]:
        """Every record in seq order: plain rows read in keyset pages (no ORM objects, each page
        its own short read), so a consumer that streams holds one page at a time."""
        for row in self.rows(_RECORD_COLUMNS):
            yield _record(row)

    def links(self) -> Iterator[AuditLink]:
        """Every record in seq order as verification reads it: the time and the payload are read
        raw (no row processors, no record objects) and converted once here; see `AuditLink`."""
        for row in self.rows(_LINK_COLUMNS):
            seq, ts, kind, actor, incident_id, payload, prev_hash, hash_ = cast(tuple[Any, ...], row)
            body = json.loads(payload) if isinstance(payload, str | bytes) else payload
            yield AuditLink(seq, _iso(ts), kind, actor, incident_id, body, prev_hash, hash_)

    def hashes(self) -> Iterator[tuple[int, str]]:
        """(seq, hash) of every record in seq order, without the payloads: the cheap pass for
        checks that need only the links (checkpoints, say)."""
        for row in self.rows((col(AuditRow.seq), col(AuditRow.hash))):
            yield row.seq, row.hash

    def rows(self, columns: Sequence[Any], *, page: int = PAGE) -> Iterator[Row[Any]]:
        """The given columns of every record (seq among them), in seq order, `page` rows a read."""
        after = 0
        while True:
            with self._db.session() as session:
                rows = (
                    session.connection()
                    .execute(
                        rows_of(*columns)
                        .where(col(AuditRow.cluster) == self._cluster, col(AuditRow.seq) > after)
                        .order_by(col(AuditRow.seq))
                        .limit(page)
                    )
                    .all()
                )
            yield from rows
            if len(rows) < page:  # (the keyset walks the (cluster, seq) primary key)
                return
            after = rows[-1].seq


def _record(row: AuditRow | Row[Any]) -> AuditRecord:
    """A record from a full ORM row or a plain row of `_RECORD_COLUMNS` (the same names)."""
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


def _iso(value: str | datetime) -> str:
    """A stored time in the hashed form. SQLite keeps SQLAlchemy's text form
    (`YYYY-MM-DD HH:MM:SS.ffffff`, UTC), rewritten without parsing; anything else is parsed."""
    if isinstance(value, str):
        if len(value) == _SQLITE_TIME_LENGTH and value[10] == " " and value[19] == ".":
            return f"{value[:10]}T{value[11:]}+00:00"
        value = datetime.fromisoformat(value)
    return utc(value).isoformat(timespec="microseconds")


_SQLITE_TIME_LENGTH = len("2026-01-01 00:00:00.000000")

_LINK_COLUMNS = (
    col(AuditRow.seq),
    type_coerce(col(AuditRow.ts), String).label("ts"),
    col(AuditRow.kind),
    col(AuditRow.actor),
    col(AuditRow.incident_id),
    type_coerce(col(AuditRow.payload), String).label("payload"),
    col(AuditRow.prev_hash),
    col(AuditRow.hash),
)

_RECORD_COLUMNS = (
    col(AuditRow.seq),
    col(AuditRow.ts),
    col(AuditRow.kind),
    col(AuditRow.actor),
    col(AuditRow.incident_id),
    col(AuditRow.payload),
    col(AuditRow.prev_hash),
    col(AuditRow.hash),
)
