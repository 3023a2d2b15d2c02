"""SQLAlchemy 2 models of notification campaigns: campaigns, registry imports and entries,
dial attempts and the do-not-call list (issue 5).

Datetimes are UTC-aware through the ``Base`` type map; ``created_at``/``updated_at``
default to now so services need not set them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from callagent.db.models import Base

ENTRY_STATUSES = (
    "pending",
    "in_progress",
    "notified",
    "not_notified",
    "invalid",
    "do_not_call",
)


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


def default_window() -> dict[str, Any]:
    """Mon-Fri 09:00-20:00, Sat 10:00-16:00, no calls on Sunday."""
    weekday = [["09:00", "20:00"]]
    return {
        "mon": weekday,
        "tue": weekday,
        "wed": weekday,
        "thu": weekday,
        "fri": weekday,
        "sat": [["10:00", "16:00"]],
        "sun": [],
    }


def default_retry_delays() -> dict[str, Any]:
    """Seconds to wait before the next attempt, per attempt result."""
    return {
        "busy": 900,
        "no_answer": 1800,
        "failed": 1800,
        "congestion": 600,
        "rejected": 3600,
        "answering_machine": 3600,
    }


class Campaign(Base):
    """A notification campaign: what to call, when, how fast, how often."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    mode: Mapped[str] = mapped_column(String(16), default="message")  # message | operator
    status: Mapped[str] = mapped_column(String(16), default="draft")
    office_timezone: Mapped[str] = mapped_column(String(64), default="Europe/Moscow")
    window: Mapped[dict[str, Any]] = mapped_column(JSON, default=default_window)
    holidays: Mapped[list[Any]] = mapped_column(JSON, default=list)  # ["2026-01-01", ...]
    max_concurrent: Mapped[int] = mapped_column(Integer, default=10)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    retry_delays: Mapped[dict[str, Any]] = mapped_column(JSON, default=default_retry_delays)
    calls_per_second: Mapped[float] = mapped_column(Float, default=2.0)
    caller_id: Mapped[str] = mapped_column(String(128), default="")
    dial_template: Mapped[str] = mapped_column(String(255), default="PJSIP/{number}@trunk")
    context: Mapped[str] = mapped_column(String(80), default="notify-out")
    message: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(160), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RegistryImport(Base):
    """One registry file imported into a campaign, with its report of rejected rows."""

    __tablename__ = "registry_imports"
    __table_args__ = (UniqueConstraint("campaign_id", "sha256", name="uq_registry_imports_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255), default="")
    sha256: Mapped[str] = mapped_column(String(64))
    file_format: Mapped[str] = mapped_column(String(8), default="")  # csv | xlsx
    encoding: Mapped[str] = mapped_column(String(32), default="")  # CSV only
    delimiter: Mapped[str] = mapped_column(String(4), default="")  # CSV only
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(160), default="")
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_imported: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    columns: Mapped[list[Any]] = mapped_column(JSON, default=list)  # header names in order
    mapping: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # field -> header(s)
    # [{"row": n, "reason": str, "values": {header: cell}}]: stored as given, masked in
    # API answers for readers without calls:read_pii.
    report: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # The header's row number in the file (None: imported before it was kept, migration
    # 0013); rows above it and the rows that are no entry are in registry_rows.
    header_row: Mapped[int | None] = mapped_column(Integer)
    # SHA-256 of the header row: a registry of the same layout finds this import's mapping.
    layout_key: Mapped[str] = mapped_column(String(64), default="", index=True)


class RegistryEntry(Base):
    """One applicant of a registry: whom to call, and what came of it."""

    __tablename__ = "registry_entries"
    __table_args__ = (
        UniqueConstraint("campaign_id", "dedupe_key", name="uq_registry_entries_dedupe"),
        Index("ix_registry_entries_due", "campaign_id", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    import_id: Mapped[int] = mapped_column(
        ForeignKey("registry_imports.id", ondelete="CASCADE"), index=True
    )
    row_number: Mapped[int] = mapped_column(Integer)
    # Case number when present, else first normalised phone + name (see registry_import).
    dedupe_key: Mapped[str] = mapped_column(String(128))
    applicant_name: Mapped[str] = mapped_column(String(255), default="")
    phones: Mapped[list[Any]] = mapped_column(JSON, default=list)  # E.164
    phone_timezones: Mapped[list[Any]] = mapped_column(JSON, default=list)  # IANA or ''
    case_number: Mapped[str] = mapped_column(String(128), default="")
    service: Mapped[str] = mapped_column(String(255), default="")
    office: Mapped[str] = mapped_column(String(255), default="")
    ready_date: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # header -> cell text
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_result: Mapped[str] = mapped_column(String(32), default="")
    last_call_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]  # None: due now
    confirmation_digit: Mapped[str] = mapped_column(String(4), default="")
    operator_comment: Mapped[str] = mapped_column(Text, default="")
    lease_owner: Mapped[str] = mapped_column(String(128), default="")
    lease_until: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RegistryRow(Base):
    """A row of an uploaded file that is no entry (a title row above the header, a
    duplicate), its cells as they were, so the export gives the file back row for row."""

    __tablename__ = "registry_rows"
    __table_args__ = (UniqueConstraint("import_id", "row_number", name="uq_registry_rows_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("registry_imports.id", ondelete="CASCADE"))
    row_number: Mapped[int] = mapped_column(Integer)
    # title (above the header), duplicate_in_file, duplicate (already in the campaign)
    code: Mapped[str] = mapped_column(String(32))
    cells: Mapped[list[Any]] = mapped_column(JSON, default=list)  # texts, column by column
    of_import: Mapped[int | None] = mapped_column(Integer)  # the row it repeats: import ...
    of_row: Mapped[int | None] = mapped_column(Integer)  # ... and row number


class NotificationAttempt(Base):
    """One outbound call of an entry: the Originate and its result."""

    __tablename__ = "notification_attempts"
    __table_args__ = (
        Index("ix_notification_attempts_campaign", "campaign_id", "result"),
        Index("ix_notification_attempts_channel", "channel_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("registry_entries.id", ondelete="CASCADE"), index=True
    )
    phone: Mapped[str] = mapped_column(String(32))
    action_id: Mapped[str] = mapped_column(String(64), unique=True)
    channel_id: Mapped[str] = mapped_column(String(64), default="")  # Originate ChannelId
    run_id: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)  # leased; then sent
    # when the Originate was sent; None: leased, not dialled yet
    originated_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    result: Mapped[str] = mapped_column(String(32), default="")  # '' while in flight
    cause: Mapped[int | None] = mapped_column(Integer)  # hangup cause
    digit: Mapped[str] = mapped_column(String(4), default="")
    # the sound file Asterisk could not play (result prompt_missing), e.g. callagent/notify-ready
    missing_prompt: Mapped[str] = mapped_column(String(200), default="")
    # calls.id of the tracker's record; no foreign key: the record may be written later.
    call_id: Mapped[int | None] = mapped_column(Integer)


class DoNotCall(Base):
    """A number never to be called by a campaign (asked by DTMF 9 or added by hand)."""

    __tablename__ = "do_not_call"

    phone: Mapped[str] = mapped_column(String(32), primary_key=True)  # E.164
    reason: Mapped[str] = mapped_column(String(255), default="")
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    added_by: Mapped[str] = mapped_column(String(160), default="")
