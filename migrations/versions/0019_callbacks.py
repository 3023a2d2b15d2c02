"""callback_requests, callback_tasks: website call-back requests (issue #13)

The office's website posts a signed request (name, phone, topic, the applicant's preferred
window, consent to personal-data processing); each becomes a call-back task: when it is
due, its attempts, the operator it is given to, the call that reached the applicant and the
wrap-up that closed it.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create both tables and their indexes."""
    op.create_table(
        "callback_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("phone_zone", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("window_from", _TS, nullable=False),
        sa.Column("window_to", _TS, nullable=False),
        sa.Column("consent_at", _TS, nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("callback_requests", schema=None) as batch_op:
        batch_op.create_index("ix_callback_requests_phone", ["phone"])

    op.create_table(
        "callback_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_at", _TS, nullable=True),
        sa.Column("window_to", _TS, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("last_operator_id", sa.Integer(), nullable=True),
        sa.Column("last_result", sa.String(length=32), nullable=False),
        sa.Column("last_call_at", _TS, nullable=True),
        sa.Column("action_id", sa.String(length=80), nullable=False),
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("lease_owner", sa.String(length=80), nullable=False),
        sa.Column("lease_until", _TS, nullable=True),
        sa.Column("answered_at", _TS, nullable=True),
        sa.Column("call_key", sa.String(length=160), nullable=True),
        sa.Column("wrapup_id", sa.Integer(), nullable=True),
        sa.Column("closed_at", _TS, nullable=True),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["callback_requests.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["operator_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["last_operator_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["wrapup_id"], ["wrapups.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("callback_tasks", schema=None) as batch_op:
        batch_op.create_index("ix_callback_tasks_status_due", ["status", "due_at"])
        batch_op.create_index("ix_callback_tasks_request", ["request_id"], unique=True)
        batch_op.create_index("ix_callback_tasks_channel", ["channel_id"])
        batch_op.create_index("ix_callback_tasks_created", ["created_at"])


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("callback_tasks")
    op.drop_table("callback_requests")
