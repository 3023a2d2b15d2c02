"""quality_*: QA scorecards, evaluations, sampling, disputes (issue #13)

Seed 003 B/01-B/03, seed 002 §3.1.4(9): calls drawn for monitoring and given to
evaluators (quality_assignments), scored with a versioned scorecard
(quality_scorecards); an evaluation (quality_evaluations, its answers in
quality_answers) is immutable once submitted: a correction is a new revision and the
old row only learns which row superseded it. Operators acknowledge or dispute
(quality_responses); a supervisor resolves the dispute.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "quality_scorecards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("quality_scorecards", schema=None) as batch_op:
        batch_op.create_index("ix_quality_scorecards_key", ["key", "version"], unique=True)

    op.create_table(
        "quality_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("evaluator_id", sa.Integer(), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["operator_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["evaluator_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("quality_assignments", schema=None) as batch_op:
        # an evaluator gets a call once: a second sampling run skips it
        batch_op.create_index(
            "ix_quality_assignments_call", ["call_id", "evaluator_id"], unique=True
        )
        batch_op.create_index("ix_quality_assignments_queue", ["evaluator_id", "status"])
        batch_op.create_index("ix_quality_assignments_week", ["week", "operator_id"])

    op.create_table(
        "quality_evaluations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=True),
        sa.Column("call_started_at", _TS, nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("evaluator_id", sa.Integer(), nullable=True),
        sa.Column("scorecard_id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("revision_of_id", sa.Integer(), nullable=True),
        sa.Column("revision_reason", sa.Text(), nullable=False),
        sa.Column("revised_by_id", sa.Integer(), nullable=True),
        sa.Column("superseded_by_id", sa.Integer(), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("earned", sa.Float(), nullable=False),
        sa.Column("possible", sa.Float(), nullable=False),
        sa.Column("critical", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("submitted_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["operator_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["evaluator_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["revised_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["scorecard_id"], ["quality_scorecards.id"]),
        sa.ForeignKeyConstraint(["assignment_id"], ["quality_assignments.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["revision_of_id"], ["quality_evaluations.id"], ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["superseded_by_id"], ["quality_evaluations.id"], ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("quality_evaluations", schema=None) as batch_op:
        batch_op.create_index("ix_quality_evaluations_call", ["call_id"])
        batch_op.create_index("ix_quality_evaluations_operator", ["operator_id", "call_started_at"])
        batch_op.create_index("ix_quality_evaluations_started", ["call_started_at"])

    op.create_table(
        "quality_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evaluation_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("answer", sa.String(length=8), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("possible", sa.Float(), nullable=False),
        sa.Column("critical", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["evaluation_id"], ["quality_evaluations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("quality_answers", schema=None) as batch_op:
        batch_op.create_index("ix_quality_answers_evaluation", ["evaluation_id"])

    op.create_table(
        "quality_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evaluation_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("resolved_at", _TS, nullable=True),
        sa.Column("resolved_by_id", sa.Integer(), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["evaluation_id"], ["quality_evaluations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["resolved_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("quality_responses", schema=None) as batch_op:
        batch_op.create_index("ix_quality_responses_evaluation", ["evaluation_id"])
        batch_op.create_index("ix_quality_responses_open", ["kind", "resolved_at"])


def downgrade() -> None:
    op.drop_table("quality_responses")
    op.drop_table("quality_answers")
    op.drop_table("quality_evaluations")
    op.drop_table("quality_assignments")
    op.drop_table("quality_scorecards")
