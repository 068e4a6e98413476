"""Indexes the console's incident list pages on: newest first, by namespace, by action, by verdict.

Revision ID: i17_console_indexes
Revises: i22_autonomy
"""

from __future__ import annotations

from alembic import op

revision = "i17_console_indexes"
down_revision = "i22_autonomy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index("ix_incidents_started_at_id", ["started_at", "id"], unique=False)
        batch_op.create_index("ix_incidents_namespace_started_at", ["namespace", "started_at", "id"], unique=False)
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.create_index("ix_proposals_action", ["action", "incident_id"], unique=False)
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.create_index("ix_decisions_verdict", ["verdict", "proposal_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_decisions_verdict")
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_index("ix_proposals_action")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index("ix_incidents_namespace_started_at")
        batch_op.drop_index("ix_incidents_started_at_id")
