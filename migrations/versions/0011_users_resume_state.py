"""users.resume_state / resume_reason: the state an operator returns to after a phone gap

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("resume_state", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("resume_reason", sa.String(length=32), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("resume_reason")
        batch_op.drop_column("resume_state")
