"""questions.assignee_id / assigned_at / assigned_by: who is to deal with a question

The register of non-standard questions (issue #17): a supervisor assigns a question to
an operator (usually the one to call the applicant back); the assignee sees it among
their own. Existing questions have no assignee.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("questions") as batch_op:
        batch_op.add_column(sa.Column("assignee_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("assigned_by", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_questions_assignee_id_users", "users", ["assignee_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_foreign_key(
            "fk_questions_assigned_by_users", "users", ["assigned_by"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_index("ix_questions_assignee", ["assignee_id"])


def downgrade() -> None:
    with op.batch_alter_table("questions") as batch_op:
        batch_op.drop_index("ix_questions_assignee")
        batch_op.drop_constraint("fk_questions_assigned_by_users", type_="foreignkey")
        batch_op.drop_constraint("fk_questions_assignee_id_users", type_="foreignkey")
        batch_op.drop_column("assigned_by")
        batch_op.drop_column("assigned_at")
        batch_op.drop_column("assignee_id")
