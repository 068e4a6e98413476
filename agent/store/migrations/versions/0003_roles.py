"""Least privilege on PostgreSQL: the audit head moves only through functions of the owner.

The daemon's role (see agent.store.roles) may SELECT and INSERT audit records and SELECT the
head, nothing more on those tables. The head is locked and advanced by two SECURITY DEFINER
functions that run as the owner of the tables and refuse to move the head backwards or onto a
record that does not exist. The daemon's role cannot alter them: only their owner can.

Revision ID: i16_roles
Revises: i21_channel_messages
"""

from __future__ import annotations

from alembic import op

revision = "i16_roles"
down_revision = "i21_channel_messages"
branch_labels = None
depends_on = None

LOCK_HEAD = """
CREATE FUNCTION scutum_audit_lock_head() RETURNS TABLE (head_seq integer, head_hash varchar)
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    RETURN QUERY SELECT h.seq, h.hash FROM audit_head AS h WHERE h.id = 1 FOR UPDATE;
END;
$$
"""

ADVANCE_HEAD = """
CREATE FUNCTION scutum_audit_advance_head(new_seq integer, new_hash varchar) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    current_seq integer;
BEGIN
    SELECT h.seq INTO current_seq FROM audit_head AS h WHERE h.id = 1 FOR UPDATE;
    IF new_seq <= current_seq THEN
        RAISE EXCEPTION 'the audit head only moves forward: % refused at %', new_seq, current_seq
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM audit_records AS r WHERE r.seq = new_seq AND r.hash = new_hash) THEN
        RAISE EXCEPTION 'the audit head must name a stored record: seq % refused', new_seq
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    UPDATE audit_head SET seq = new_seq, hash = new_hash WHERE id = 1;
END;
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(LOCK_HEAD)
    op.execute(ADVANCE_HEAD)
    op.execute("REVOKE ALL ON FUNCTION scutum_audit_lock_head() FROM PUBLIC")
    op.execute("REVOKE ALL ON FUNCTION scutum_audit_advance_head(integer, varchar) FROM PUBLIC")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION IF EXISTS scutum_audit_advance_head(integer, varchar)")
    op.execute("DROP FUNCTION IF EXISTS scutum_audit_lock_head()")
