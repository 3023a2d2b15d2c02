"""node_leases: which callagent instance follows which AMI node (issue #16)

Several instances on one PostgreSQL each know every AMI node; one row per node says who
follows it, until when, and under which fencing token. Taking a node over raises the
token; every write for the node checks it in its own transaction, so an instance that
lost the node (killed, frozen, cut off) can never write for it again. SQLite (one
instance) keeps the table empty.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the leases table."""
    op.create_table(
        "node_leases",
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("acquired_at", _TS, nullable=False),
        sa.Column("takeovers", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("node"),
    )


def downgrade() -> None:
    """Drop the leases table."""
    op.drop_table("node_leases")
