"""notification campaigns, registry entries and attempts

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 01:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("office_timezone", sa.String(length=64), nullable=False),
        sa.Column("window", sa.JSON(), nullable=False),
        sa.Column("holidays", sa.JSON(), nullable=False),
        sa.Column("max_concurrent", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("retry_delays", sa.JSON(), nullable=False),
        sa.Column("calls_per_second", sa.Float(), nullable=False),
        sa.Column("caller_id", sa.String(length=128), nullable=False),
        sa.Column("dial_template", sa.String(length=255), nullable=False),
        sa.Column("context", sa.String(length=80), nullable=False),
        sa.Column("message", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=160), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "do_not_call",
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("added_at", _utc(), nullable=False),
        sa.Column("added_by", sa.String(length=160), nullable=False),
        sa.PrimaryKeyConstraint("phone"),
    )
    op.create_table(
        "registry_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("file_format", sa.String(length=8), nullable=False),
        sa.Column("encoding", sa.String(length=32), nullable=False),
        sa.Column("delimiter", sa.String(length=4), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("created_by", sa.String(length=160), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("rows_imported", sa.Integer(), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "sha256", name="uq_registry_imports_sha256"),
    )
    op.create_index(
        "ix_registry_imports_campaign_id", "registry_imports", ["campaign_id"], unique=False
    )
    op.create_table(
        "registry_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=128), nullable=False),
        sa.Column("applicant_name", sa.String(length=255), nullable=False),
        sa.Column("phones", sa.JSON(), nullable=False),
        sa.Column("phone_timezones", sa.JSON(), nullable=False),
        sa.Column("case_number", sa.String(length=128), nullable=False),
        sa.Column("service", sa.String(length=255), nullable=False),
        sa.Column("office", sa.String(length=255), nullable=False),
        sa.Column("ready_date", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_result", sa.String(length=32), nullable=False),
        sa.Column("last_call_at", _utc(), nullable=True),
        sa.Column("next_attempt_at", _utc(), nullable=True),
        sa.Column("confirmation_digit", sa.String(length=4), nullable=False),
        sa.Column("operator_comment", sa.Text(), nullable=False),
        sa.Column("lease_owner", sa.String(length=128), nullable=False),
        sa.Column("lease_until", _utc(), nullable=True),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["import_id"], ["registry_imports.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "dedupe_key", name="uq_registry_entries_dedupe"),
    )
    op.create_index(
        "ix_registry_entries_due",
        "registry_entries",
        ["campaign_id", "status", "next_attempt_at"],
        unique=False,
    )
    op.create_index(
        "ix_registry_entries_import_id", "registry_entries", ["import_id"], unique=False
    )
    op.create_table(
        "notification_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("action_id", sa.String(length=64), nullable=False),
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("started_at", _utc(), nullable=False),
        sa.Column("ended_at", _utc(), nullable=True),
        sa.Column("result", sa.String(length=32), nullable=False),
        sa.Column("cause", sa.Integer(), nullable=True),
        sa.Column("digit", sa.String(length=4), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["entry_id"], ["registry_entries.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("action_id"),
    )
    op.create_index(
        "ix_notification_attempts_campaign",
        "notification_attempts",
        ["campaign_id", "result"],
        unique=False,
    )
    op.create_index(
        "ix_notification_attempts_channel", "notification_attempts", ["channel_id"], unique=False
    )
    op.create_index(
        "ix_notification_attempts_entry_id", "notification_attempts", ["entry_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_notification_attempts_entry_id", table_name="notification_attempts")
    op.drop_index("ix_notification_attempts_channel", table_name="notification_attempts")
    op.drop_index("ix_notification_attempts_campaign", table_name="notification_attempts")
    op.drop_table("notification_attempts")
    op.drop_index("ix_registry_entries_import_id", table_name="registry_entries")
    op.drop_index("ix_registry_entries_due", table_name="registry_entries")
    op.drop_table("registry_entries")
    op.drop_index("ix_registry_imports_campaign_id", table_name="registry_imports")
    op.drop_table("registry_imports")
    op.drop_table("do_not_call")
    op.drop_table("campaigns")
