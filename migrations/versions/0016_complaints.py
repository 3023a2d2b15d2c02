"""complaints, complaint_history: the complaints register (issue #13)

A complaint (seed 003 A/04, seed 001 §3.1.4) is registered from a wrap-up, the API or by
hand; it has the applicant, subject, the office concerned, a cause, an owner, a status and
a decision deadline from CALLAGENT_COMPLAINT_DEADLINE, the decision and the answer. Its
history keeps who moved it from which status to which, when, and why.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "complaints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("applicant_name", sa.String(length=255), nullable=False),
        sa.Column("applicant_phone", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("office", sa.String(length=255), nullable=False),
        sa.Column("cause", sa.String(length=32), nullable=False),
        sa.Column("cause_other", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("registered_at", _TS, nullable=False),
        sa.Column("deadline_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("decision", sa.Text(), nullable=True),
        sa.Column("decided_at", _TS, nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answer_channel", sa.String(length=16), nullable=True),
        sa.Column("answered_at", _TS, nullable=True),
        sa.Column("closed_at", _TS, nullable=True),
        sa.Column("call_id", sa.Integer(), nullable=True),
        sa.Column("call_key", sa.String(length=160), nullable=True),
        sa.Column("wrapup_id", sa.Integer(), nullable=True),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("overdue_reported_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["operator_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["wrapup_id"], ["wrapups.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.create_index("ix_complaints_status_deadline", ["status", "deadline_at"])
        batch_op.create_index("ix_complaints_operator", ["operator_id", "registered_at"])
        batch_op.create_index("ix_complaints_owner", ["owner_id"])
        batch_op.create_index("ix_complaints_registered_at", ["registered_at"])
        # one complaint per wrap-up: a corrected wrap-up does not register it twice
        batch_op.create_index("ix_complaints_wrapup", ["wrapup_id"], unique=True)

    op.create_table(
        "complaint_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=True),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["complaint_id"], ["complaints.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["by_user_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("complaint_history", schema=None) as batch_op:
        batch_op.create_index("ix_complaint_history_complaint", ["complaint_id", "id"])


def downgrade() -> None:
    op.drop_table("complaint_history")
    op.drop_table("complaints")
