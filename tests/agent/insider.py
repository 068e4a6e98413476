"""What a database admin can do to the audit tables behind the agent's back (test helpers)."""

from __future__ import annotations

from sqlalchemy import create_engine, text


def truncate_and_rewind(url: str, *, delete_last: int) -> int:
    """Delete the last `delete_last` records and point the head at the last one left, as an
    owner of the tables can (on PostgreSQL: with the append-only trigger disabled). Returns the
    new head's seq."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            postgres = conn.dialect.name == "postgresql"
            if postgres:
                conn.execute(text("ALTER TABLE audit_records DISABLE TRIGGER USER"))
            top = conn.execute(text("SELECT max(seq) FROM audit_records")).scalar_one()
            keep = top - delete_last
            conn.execute(text("DELETE FROM audit_records WHERE seq > :keep"), {"keep": keep})
            last_hash = conn.execute(text("SELECT hash FROM audit_records WHERE seq = :keep"), {"keep": keep}).scalar()
            conn.execute(text("UPDATE audit_head SET seq = :seq, hash = :hash"), {"seq": keep, "hash": last_hash or ""})
            if postgres:
                conn.execute(text("ALTER TABLE audit_records ENABLE TRIGGER USER"))
        return int(keep)
    finally:
        engine.dispose()
