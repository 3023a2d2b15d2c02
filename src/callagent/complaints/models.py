"""The complaints register's tables: complaints and their history (migration 0016)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from callagent.db.models import Base

# registered -> in_work -> decided -> answered -> closed; rejected (not a complaint, a
# duplicate, withdrawn) from registered or in_work; answered, closed and rejected ones can be
# reopened (back to in_work). complaints/service.py holds the transitions.
COMPLAINT_STATUSES = ("registered", "in_work", "decided", "answered", "closed", "rejected")
# What the complaint is about, for the causes report (the wrap-up form's "About" values
# first, so a wrap-up's choice is a cause as it is).
COMPLAINT_CAUSES = (
    "waiting_time",
    "staff",
    "office",
    "website",
    "wrong_information",
    "service_quality",
    "deadline_missed",
    "other",
)
RECEIVED_CHANNELS = ("phone", "email", "letter", "in_person", "website")
ANSWER_CHANNELS = ("phone", "sms", "email", "letter")


class Complaint(Base):
    """A complaint or claim of an applicant, with its decision deadline and answer."""

    __tablename__ = "complaints"
    __table_args__ = (
        Index("ix_complaints_status_deadline", "status", "deadline_at"),
        Index("ix_complaints_operator", "operator_id", "registered_at"),
        Index("ix_complaints_owner", "owner_id"),
        Index("ix_complaints_registered_at", "registered_at"),
        Index("ix_complaints_wrapup", "wrapup_id", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    applicant_name: Mapped[str] = mapped_column(String(255), default="")  # personal data
    applicant_phone: Mapped[str] = mapped_column(String(64), default="")  # personal data
    subject: Mapped[str] = mapped_column(Text)
    office: Mapped[str] = mapped_column(String(255), default="")  # the office/service concerned
    cause: Mapped[str] = mapped_column(String(32))
    cause_other: Mapped[str] = mapped_column(String(255), default="")  # when cause is other
    channel: Mapped[str] = mapped_column(String(16))  # how it was received
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="registered")
    registered_at: Mapped[datetime]
    deadline_at: Mapped[datetime]  # the decision's deadline, by CALLAGENT_COMPLAINT_DEADLINE
    updated_at: Mapped[datetime]
    decision: Mapped[str | None] = mapped_column(Text)  # or why it was rejected
    decided_at: Mapped[datetime | None]
    answer: Mapped[str | None] = mapped_column(Text)
    answer_channel: Mapped[str | None] = mapped_column(String(16))
    answered_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    call_key: Mapped[str | None] = mapped_column(String(160))  # node:linkedid
    wrapup_id: Mapped[int | None] = mapped_column(ForeignKey("wrapups.id", ondelete="SET NULL"))
    # subject, office and decision case-folded in Python (SQLite's lower() is ASCII only)
    search_text: Mapped[str] = mapped_column(Text, default="")
    # the centre's day a complaint.overdue event was last sent for it: once a day
    overdue_reported_on: Mapped[date | None]


class ComplaintChange(Base):
    """One line of a complaint's history: registered, a status change, an assignment."""

    __tablename__ = "complaint_history"
    __table_args__ = (Index("ix_complaint_history_complaint", "complaint_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(16))  # registered, status, assigned, edited
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(Text, default="")
