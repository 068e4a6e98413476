"""A fleet on one store: every row carries the cluster it belongs to.

Rows a single-cluster store already holds become the "default" cluster's (the server default),
so an existing store upgrades in place and an agent left at the default cluster sees no change.
Ids of incidents, proposals, decisions, approval requests and executions are unique across the
fleet (random, or derived with the cluster's name), so those keys stay; what was numbered or
named per cluster gets the cluster in its key: the audit chain (cluster, seq) with its head one
row per cluster, the kill switch one row per cluster, replicas (cluster, identity). The owner's
head functions take the cluster. Votes a cluster's agent receives for another cluster's request
wait in `relayed_votes` for the owner's agent.

Revision ID: fleet_cluster
Revises: execution_approval
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "fleet_cluster"
down_revision = "execution_approval"
branch_labels = None
depends_on = None

SCOPED = (
    "incidents",
    "proposals",
    "decisions",
    "approval_requests",
    "approval_votes",
    "executions",
    "object_snapshots",
    "autonomy_grants",
)
"""Tables whose rows gain a cluster column (and an index on it), keys unchanged."""

REKEYED = {"control_state": ["cluster"], "audit_head": ["cluster"], "replicas": ["cluster", "identity"]}
"""Small tables whose key becomes the cluster (with the identity, for replicas)."""

LOCK_HEAD = """
CREATE FUNCTION scutum_audit_lock_head(head_cluster varchar)
RETURNS TABLE (head_seq integer, head_hash varchar)
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO audit_head (cluster, seq, hash) VALUES (head_cluster, 0, '') ON CONFLICT (cluster) DO NOTHING;
    RETURN QUERY SELECT h.seq, h.hash FROM audit_head AS h WHERE h.cluster = head_cluster FOR UPDATE;
END;
$$
"""

ADVANCE_HEAD = """
CREATE FUNCTION scutum_audit_advance_head(head_cluster varchar, new_seq integer, new_hash varchar) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    current_seq integer;
BEGIN
    SELECT h.seq INTO current_seq FROM audit_head AS h WHERE h.cluster = head_cluster FOR UPDATE;
    IF current_seq IS NULL OR new_seq <= current_seq THEN
        RAISE EXCEPTION 'the audit head only moves forward: % refused at % (cluster %)', new_seq, current_seq,
            head_cluster USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT EXISTS (
        SELECT 1 FROM audit_records AS r WHERE r.cluster = head_cluster AND r.seq = new_seq AND r.hash = new_hash
    ) THEN
        RAISE EXCEPTION 'the audit head must name a stored record: seq % refused (cluster %)', new_seq, head_cluster
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    UPDATE audit_head SET seq = new_seq, hash = new_hash WHERE cluster = head_cluster;
END;
$$
"""

def _cluster_column() -> sa.Column[str]:
    return sa.Column("cluster", sa.String(length=63), server_default="default", nullable=False)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in SCOPED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(_cluster_column())
            batch.create_index(f"ix_{table}_cluster", ["cluster"], unique=False)
    if postgres:
        _rekey_postgres()
    else:
        _rekey_sqlite()
    op.create_table(
        "relayed_votes",
        sa.Column("id", sa.Integer(), nullable=False),
        _cluster_column(),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("approver", sa.String(length=256), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("received_by", sa.String(length=63), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_relayed_votes_cluster", "relayed_votes", ["cluster"], unique=False)


def _rekey_postgres() -> None:
    for table, key in REKEYED.items():
        op.add_column(table, _cluster_column())
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey")
        if table != "replicas":
            op.drop_column(table, "id")
        op.create_primary_key(f"{table}_pkey", table, key)
    # audit_records: ADD COLUMN with a default rewrites no row, so the append-only trigger stays quiet
    op.add_column("audit_records", _cluster_column())
    op.execute("ALTER TABLE audit_records DROP CONSTRAINT audit_records_pkey")
    op.create_primary_key("audit_records_pkey", "audit_records", ["cluster", "seq"])
    op.execute("ALTER TABLE audit_records DROP CONSTRAINT audit_records_hash_key")
    op.create_unique_constraint("uq_audit_records_cluster_hash", "audit_records", ["cluster", "hash"])
    op.execute("DROP FUNCTION IF EXISTS scutum_audit_advance_head(integer, varchar)")
    op.execute("DROP FUNCTION IF EXISTS scutum_audit_lock_head()")
    op.execute(LOCK_HEAD)
    op.execute(ADVANCE_HEAD)
    op.execute("REVOKE ALL ON FUNCTION scutum_audit_lock_head(varchar) FROM PUBLIC")
    op.execute("REVOKE ALL ON FUNCTION scutum_audit_advance_head(varchar, integer, varchar) FROM PUBLIC")


def _rekey_sqlite() -> None:
    for table, key in REKEYED.items():
        _rebuild_sqlite(table, key, drop=("id",) if table != "replicas" else ())
    _rebuild_sqlite("audit_records", ["cluster", "seq"], unique=("cluster", "hash"))


def _rebuild_sqlite(table: str, key: list[str], *, drop: tuple[str, ...] = (), unique: tuple[str, ...] = ()) -> None:
    """SQLite cannot change a primary key in place: a copy with the cluster first in its key,
    the rows copied as the default cluster's, the old table dropped, the indexes made again."""
    inspector = sa.inspect(op.get_bind())
    kept = [c for c in inspector.get_columns(table) if c["name"] not in drop]
    indexes = inspector.get_indexes(table)
    columns = [_cluster_column()] + [
        sa.Column(c["name"], c["type"], nullable=c["nullable"], autoincrement=False) for c in kept
    ]
    constraints: list[sa.Constraint] = [sa.PrimaryKeyConstraint(*key)]
    if unique:
        constraints.append(sa.UniqueConstraint(*unique, name=f"uq_{table}_{'_'.join(unique)}"))
    op.create_table(f"{table}_fleet", *columns, *constraints)
    names = ", ".join(c["name"] for c in kept)
    op.execute(f"INSERT INTO {table}_fleet (cluster, {names}) SELECT 'default', {names} FROM {table}")
    op.drop_table(table)
    op.rename_table(f"{table}_fleet", table)
    for index in indexes:
        op.create_index(str(index["name"]), table, [str(c) for c in index["column_names"]], unique=bool(index["unique"]))


def downgrade() -> None:
    """One way: going back would have to merge the clusters' chains, which a chain forbids."""
    raise RuntimeError("fleet_cluster cannot be downgraded: restore the backup taken before the upgrade")
