"""Executions remember the approval request they carry out, so a run resumed after a restart or
a failover keeps its approval (re-validated against what the approvers saw, not as automatic).

Revision ID: execution_approval
Revises: i19_fencing
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "execution_approval"
down_revision = "i19_fencing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("executions") as batch:
        batch.add_column(sa.Column("approval_request_id", sa.String(length=64), nullable=True))
        batch.create_index("ix_executions_approval_request_id", ["approval_request_id"])


def downgrade() -> None:
    with op.batch_alter_table("executions") as batch:
        batch.drop_index("ix_executions_approval_request_id")
        batch.drop_column("approval_request_id")
