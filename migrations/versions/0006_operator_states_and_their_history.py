"""operator states and their history

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 16:34:43.911912
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "operator_state_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=False),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("cause", sa.String(length=32), nullable=False),
        sa.Column("call", sa.String(length=160), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("operator_state_history", schema=None) as batch_op:
        batch_op.create_index("ix_operator_state_history_user", ["user_id", "at"], unique=False)

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("state", sa.String(length=16), nullable=False, server_default="offline")
        )
        batch_op.add_column(
            sa.Column("state_reason", sa.String(length=32), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("state_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("idle_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("claimed_call", sa.String(length=160), nullable=True))
        batch_op.add_column(sa.Column("skip_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("wrapup_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("wrapup_until")
        batch_op.drop_column("skip_until")
        batch_op.drop_column("claimed_call")
        batch_op.drop_column("idle_since")
        batch_op.drop_column("state_since")
        batch_op.drop_column("state_reason")
        batch_op.drop_column("state")

    with op.batch_alter_table("operator_state_history", schema=None) as batch_op:
        batch_op.drop_index("ix_operator_state_history_user")

    op.drop_table("operator_state_history")
