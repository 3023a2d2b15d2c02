"""wrap-ups and the register of non-standard questions

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 01:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "wrapups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=True),
        sa.Column("call_key", sa.String(length=160), nullable=True),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("category_hint", sa.String(length=64), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("deadline", _TS, nullable=False),
        sa.Column("extended", sa.Boolean(), nullable=False),
        sa.Column("missed_at", _TS, nullable=True),
        sa.Column("submitted_at", _TS, nullable=True),
        sa.Column("submitted_by", sa.Integer(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["operator_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["submitted_by"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("operator_id", "call_key", name="uq_wrapups_operator_call"),
    )
    with op.batch_alter_table("wrapups", schema=None) as batch_op:
        batch_op.create_index("ix_wrapups_call_id", ["call_id"], unique=False)
        batch_op.create_index("ix_wrapups_call_key", ["call_key"], unique=False)
        batch_op.create_index("ix_wrapups_operator_status", ["operator_id", "status"], unique=False)
        batch_op.create_index("ix_wrapups_status_deadline", ["status", "deadline"], unique=False)
        batch_op.create_index("ix_wrapups_started_at", ["started_at"], unique=False)

    op.create_table(
        "wrapup_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("wrapup_id", sa.Integer(), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=True),
        sa.Column("by_actor", sa.String(length=160), nullable=False),
        sa.Column("old_category", sa.String(length=64), nullable=True),
        sa.Column("old_fields", sa.JSON(), nullable=True),
        sa.Column("new_category", sa.String(length=64), nullable=True),
        sa.Column("new_fields", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["wrapup_id"], ["wrapups.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["by_user_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("wrapup_history", schema=None) as batch_op:
        batch_op.create_index("ix_wrapup_history_wrapup", ["wrapup_id", "id"], unique=False)

    op.create_table(
        "questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("applicant_name", sa.String(length=255), nullable=False),
        sa.Column("applicant_phone", sa.String(length=64), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=True),
        sa.Column("call_key", sa.String(length=160), nullable=True),
        sa.Column("wrapup_id", sa.Integer(), nullable=True),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("answer_channel", sa.String(length=16), nullable=False),
        sa.Column("contact", sa.String(length=255), nullable=False),
        sa.Column("preferred_time", _TS, nullable=True),
        sa.Column("due_at", _TS, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answer_source_kind", sa.String(length=16), nullable=True),
        sa.Column("answer_source_ref", sa.String(length=512), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("answered_by", sa.Integer(), nullable=True),
        sa.Column("callback_call_id", sa.Integer(), nullable=True),
        sa.Column("callback_call_key", sa.String(length=160), nullable=True),
        sa.Column("callback_by", sa.Integer(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("escalated_at", _TS, nullable=True),
        sa.Column("answered_at", _TS, nullable=True),
        sa.Column("callback_at", _TS, nullable=True),
        sa.Column("informed_at", _TS, nullable=True),
        sa.Column("closed_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["wrapup_id"], ["wrapups.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["operator_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["answered_by"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["callback_call_id"], ["calls.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["callback_by"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.create_index("ix_questions_status_due", ["status", "due_at"], unique=False)
        batch_op.create_index("ix_questions_operator", ["operator_id", "created_at"], unique=False)
        batch_op.create_index("ix_questions_callback_call_key", ["callback_call_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.drop_index("ix_questions_callback_call_key")
        batch_op.drop_index("ix_questions_operator")
        batch_op.drop_index("ix_questions_status_due")
    op.drop_table("questions")
    with op.batch_alter_table("wrapup_history", schema=None) as batch_op:
        batch_op.drop_index("ix_wrapup_history_wrapup")
    op.drop_table("wrapup_history")
    with op.batch_alter_table("wrapups", schema=None) as batch_op:
        batch_op.drop_index("ix_wrapups_started_at")
        batch_op.drop_index("ix_wrapups_status_deadline")
        batch_op.drop_index("ix_wrapups_operator_status")
        batch_op.drop_index("ix_wrapups_call_key")
        batch_op.drop_index("ix_wrapups_call_id")
    op.drop_table("wrapups")
