"""Executions: a fencing token, the recorded intent of their writes, and their judged effect.

Revision ID: i19_fencing
Revises: i14_replicas
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "i19_fencing"
down_revision = "i14_replicas"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("executions") as batch:
        batch.add_column(sa.Column("fence", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("intent", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("effect", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("effect")
        batch.drop_column("intent")
        batch.drop_column("fence")
