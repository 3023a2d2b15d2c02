"""shared routing state for several instances (issue #16)

``waiting_calls``: the calls waiting for an operator, their order and the instance
holding each one's ``route`` dialogue; ``routing_tried``: the operators each call was
offered. With them any instance answers ``route`` in the same order (PostgreSQL;
SQLite keeps the router's memory and the tables stay empty).

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the waiting list and the tried operators."""
    op.create_table(
        "waiting_calls",
        sa.Column("call", sa.String(length=220), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("entered_at", _TS, nullable=False),
        sa.Column("instance", sa.String(length=200), nullable=False),
        sa.Column("heard_at", _TS, nullable=False),
        sa.Column("held", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("call"),
    )
    op.create_table(
        "routing_tried",
        sa.Column("call", sa.String(length=220), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("call", "user_id"),
    )
    op.create_index("ix_routing_tried_at", "routing_tried", ["at"])


def downgrade() -> None:
    """Drop both tables."""
    op.drop_index("ix_routing_tried_at", table_name="routing_tried")
    op.drop_table("routing_tried")
    op.drop_table("waiting_calls")
