"""Earned autonomy: the autonomy_grants table (scutum policy promote | demote).

Revision ID: i22_autonomy
Revises: i16_roles
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "i22_autonomy"
down_revision = "i16_roles"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "autonomy_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("namespace", sa.String(length=253), nullable=False),
        sa.Column("alert_name", sa.String(length=256), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("max_risk", sa.Float(), nullable=False),
        sa.Column("changed_by", sa.String(length=256), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_autonomy_grants_case", "autonomy_grants", ["action", "namespace", "alert_name", "id"])


def downgrade() -> None:
    op.drop_index("ix_autonomy_grants_case", table_name="autonomy_grants")
    op.drop_table("autonomy_grants")
