"""planning: teams in schedules (issue #14)

A schedule keeps each team's share, need and coverage (``schedules.teams``: JSON, ``{}``
for a schedule of the whole centre), and each shift the team its operator was in when
it was built (``schedule_shifts.team``; ``""``: no team).

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("schedules") as batch_op:
        batch_op.add_column(sa.Column("teams", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("schedule_shifts") as batch_op:
        batch_op.add_column(
            sa.Column("team", sa.String(length=64), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("schedule_shifts") as batch_op:
        batch_op.drop_column("team")
    with op.batch_alter_table("schedules") as batch_op:
        batch_op.drop_column("teams")
