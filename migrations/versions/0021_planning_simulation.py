"""staffing simulation results (issue #14)

One row per interval whose recommended staffing was played through the PBX simulator:
its inputs (calls, AHT, patience, agents, threshold, seed, speed), its status and the
measured figures next to Erlang C's and A's.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """The planning_simulations table."""
    op.create_table(
        "planning_simulations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("interval_start", _TS, nullable=False),
        sa.Column("interval_minutes", sa.Integer(), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=True),
        sa.Column("agents", sa.Integer(), nullable=False),
        sa.Column("calls", sa.Float(), nullable=False),
        sa.Column("aht_seconds", sa.Float(), nullable=False),
        sa.Column("patience_seconds", sa.Float(), nullable=True),
        sa.Column("threshold_seconds", sa.Float(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("speed", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_planning_simulations_start", "planning_simulations", ["interval_start"])


def downgrade() -> None:
    """Drop it."""
    op.drop_index("ix_planning_simulations_start", table_name="planning_simulations")
    op.drop_table("planning_simulations")
