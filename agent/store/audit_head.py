"""The audit head on PostgreSQL, locked and advanced only through the owner's functions
(migration i16_roles), so the daemon's role needs no UPDATE on the head and cannot rewind it."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session

from agent.store.records import AuditHead


def lock_head(session: Session) -> AuditHead:
    """The head, locked until the transaction ends (appends serialize on it)."""
    row = session.connection().execute(text("SELECT head_seq, head_hash FROM scutum_audit_lock_head()")).first()
    return AuditHead(seq=0, hash="") if row is None else AuditHead(seq=int(row[0]), hash=str(row[1]))


def advance_head(session: Session, head: AuditHead) -> None:
    """Move the head forward to `head`; the database refuses anything else."""
    session.flush()  # the records must be stored before the function checks the new head names one
    session.connection().execute(
        text("SELECT scutum_audit_advance_head(:seq, :hash)"), {"seq": head.seq, "hash": head.hash}
    )
