"""Scale: a `superseded` flag on snapshots, so retention prunes only the history, not every
kept object; an index for paging approval requests oldest first.

Revision ID: i20_scale
Revises: i17_console_indexes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "i20_scale"
down_revision = "i17_console_indexes"
branch_labels = None
depends_on = None

MARK_EXISTING = """
UPDATE object_snapshots SET superseded = TRUE
WHERE id NOT IN (
    SELECT id FROM (
        SELECT id, ROW_NUMBER() OVER (
            PARTITION BY kind, namespace, name ORDER BY observed_at DESC, id DESC
        ) AS position
        FROM object_snapshots
    ) ranked
    WHERE position = 1
)
"""


def upgrade() -> None:
    with op.batch_alter_table("object_snapshots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("superseded", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index("ix_object_snapshots_superseded", ["superseded", "observed_at"], unique=False)
    op.execute(MARK_EXISTING)
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.create_index("ix_approval_requests_state_created", ["state", "created_at", "id"], unique=False)
        batch_op.create_index("ix_approval_requests_created", ["created_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_approval_requests_created")
        batch_op.drop_index("ix_approval_requests_state_created")
    with op.batch_alter_table("object_snapshots", schema=None) as batch_op:
        batch_op.drop_index("ix_object_snapshots_superseded")
        batch_op.drop_column("superseded")
