"""notification_attempts.missing_prompt: the sound file the PBX could not play

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notification_attempts") as batch_op:
        batch_op.add_column(
            sa.Column("missing_prompt", sa.String(length=200), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("notification_attempts") as batch_op:
        batch_op.drop_column("missing_prompt")
