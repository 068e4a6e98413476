"""Channel messages: where a request is shown on Mattermost (and later chats).

Revision ID: i21_channel_messages
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "i21_channel_messages"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_messages",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("request_id", "channel"),
    )


def downgrade() -> None:
    op.drop_table("channel_messages")
