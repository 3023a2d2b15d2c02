"""notification_attempts.originated_at: when the attempt's Originate was sent

An attempt is written when its entry is leased, a moment before the dialer sends the
Originate; "calls in progress" counts only attempts whose Originate went out.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notification_attempts") as batch_op:
        batch_op.add_column(sa.Column("originated_at", sa.DateTime(timezone=True), nullable=True))
    # attempts stored before: their Originate was sent when they were started
    op.execute("UPDATE notification_attempts SET originated_at = started_at")


def downgrade() -> None:
    with op.batch_alter_table("notification_attempts") as batch_op:
        batch_op.drop_column("originated_at")
