"""Replicas: each replica's last reported leadership and poll result (for `scutum status`).

Revision ID: i14_replicas
Revises: i20_scale
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "i14_replicas"
down_revision = "i20_scale"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "replicas",
        sa.Column("identity", sa.String(length=256), nullable=False),
        sa.Column("leading", sa.Boolean(), nullable=False),
        sa.Column("polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("poll_ok", sa.Boolean(), nullable=False),
        sa.Column("poll_detail", sa.String(length=2000), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("identity"),
    )


def downgrade() -> None:
    op.drop_table("replicas")
