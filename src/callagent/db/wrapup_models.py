"""Wrap-ups (after-call work forms), their correction history, and the register of
non-standard questions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from callagent.db.models import Base

# Wrap-up statuses: pending (form open, deadline ahead), missed (deadline passed, still
# fillable), submitted.
WRAPUP_STATUSES = ("pending", "missed", "submitted")


class Wrapup(Base):
    """One operator's after-call form for one call.

    Created when the operator enters after-call work, before the call record may
    exist (the writer is batched): ``call_key`` ("node:linkedid") names the call and
    ``call_id`` is filled in once the record is there.
    """

    __tablename__ = "wrapups"
    __table_args__ = (
        UniqueConstraint("operator_id", "call_key", name="uq_wrapups_operator_call"),
        Index("ix_wrapups_operator_status", "operator_id", "status"),
        Index("ix_wrapups_status_deadline", "status", "deadline"),
        Index("ix_wrapups_call_key", "call_key"),
        Index("ix_wrapups_started_at", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int | None] = mapped_column(
        ForeignKey("calls.id", ondelete="SET NULL"), index=True
    )
    call_key: Mapped[str | None] = mapped_column(String(160))
    operator_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    category: Mapped[str | None] = mapped_column(String(64))
    category_hint: Mapped[str | None] = mapped_column(String(64))
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime]
    deadline: Mapped[datetime]
    extended: Mapped[bool] = mapped_column(Boolean, default=False)
    missed_at: Mapped[datetime | None]  # kept after a late submit: counted in reports
    submitted_at: Mapped[datetime | None]
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revision: Mapped[int] = mapped_column(Integer, default=0)  # 1 at submit, +1 per correction
    question_id: Mapped[int | None] = mapped_column(Integer)  # a callback's question
    updated_at: Mapped[datetime]


class WrapupChange(Base):
    """The history of a wrap-up: submitted, corrected (with the old values), extended."""

    __tablename__ = "wrapup_history"
    __table_args__ = (Index("ix_wrapup_history_wrapup", "wrapup_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    wrapup_id: Mapped[int] = mapped_column(ForeignKey("wrapups.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(16))  # submitted, corrected, extended, missed
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    by_actor: Mapped[str] = mapped_column(String(160), default="")
    old_category: Mapped[str | None] = mapped_column(String(64))
    old_fields: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    new_category: Mapped[str | None] = mapped_column(String(64))
    new_fields: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


# open -> escalated (to the supervisor) -> answered -> informed (the applicant) -> closed
QUESTION_STATUSES = ("open", "escalated", "answered", "informed", "closed")
ANSWER_CHANNELS = ("call_back", "sms", "email")
ANSWER_SOURCES = ("regulation", "website", "supervisor")


class Question(Base):
    """A non-standard question: one the operator could not answer during the call."""

    __tablename__ = "questions"
    __table_args__ = (
        Index("ix_questions_status_due", "status", "due_at"),
        Index("ix_questions_operator", "operator_id", "created_at"),
        Index("ix_questions_assignee", "assignee_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    applicant_name: Mapped[str] = mapped_column(String(255), default="")
    applicant_phone: Mapped[str] = mapped_column(String(64), default="")
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    call_key: Mapped[str | None] = mapped_column(String(160))
    wrapup_id: Mapped[int | None] = mapped_column(ForeignKey("wrapups.id", ondelete="SET NULL"))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    answer_channel: Mapped[str] = mapped_column(String(16))  # call_back, sms, email
    contact: Mapped[str] = mapped_column(String(255), default="")  # phone or e-mail
    preferred_time: Mapped[datetime | None]
    due_at: Mapped[datetime]  # preferred_time, or the moment it was registered
    status: Mapped[str] = mapped_column(String(16), default="open")
    answer: Mapped[str | None] = mapped_column(Text)
    answer_source_kind: Mapped[str | None] = mapped_column(String(16))
    answer_source_ref: Mapped[str] = mapped_column(String(512), default="")
    # question and answer case-folded in Python: SQLite's lower() knows only ASCII, and
    # the knowledge base is searched in Russian.
    search_text: Mapped[str] = mapped_column(Text, default="")
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    callback_call_id: Mapped[int | None] = mapped_column(
        ForeignKey("calls.id", ondelete="SET NULL")
    )
    callback_call_key: Mapped[str | None] = mapped_column(String(160), index=True)
    callback_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    escalated_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    callback_at: Mapped[datetime | None]
    informed_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # who is to deal with it now (a supervisor's choice, usually who calls back)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    assigned_at: Mapped[datetime | None]
    assigned_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
