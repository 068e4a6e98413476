"""The audit heads on PostgreSQL (one per cluster), locked and advanced only through the
owner's functions (migrations i16_roles and fleet_cluster), so the daemon's role needs no UPDATE
on the heads and cannot rewind one."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session

from agent.store.records import AuditHead


def lock_head(session: Session, cluster: str) -> AuditHead:
    """The cluster's head, locked until the transaction ends (its appends serialize on it); a
    cluster's first append creates its head at zero."""
    row = (
        session.connection()
        .execute(text("SELECT head_seq, head_hash FROM scutum_audit_lock_head(:cluster)"), {"cluster": cluster})
        .first()
    )
    return AuditHead(seq=0, hash="") if row is None else AuditHead(seq=int(row[0]), hash=str(row[1]))


def advance_head(session: Session, cluster: str, head: AuditHead) -> None:
    """Move the cluster's head forward to `head`; the database refuses anything else."""
    session.flush()  # the records must be stored before the function checks the new head names one
    session.connection().execute(
        text("SELECT scutum_audit_advance_head(:cluster, :seq, :hash)"),
        {"cluster": cluster, "seq": head.seq, "hash": head.hash},
    )
