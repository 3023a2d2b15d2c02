"""Call-back requests and their tasks (migration 0019)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from callagent.db.models import Base

# waiting: not yet due (its window, the centre's hours or a retry's wait ahead);
# due: may be dialled now; calling: an attempt is on the line; overdue: the applicant's
# window passed before anyone reached them; done: the applicant was put through;
# failed: attempts used up. The stored status is brought up to date by
# service.refresh_statuses (the dialer's every pass, and before a listing).
TASK_STATUSES = ("waiting", "due", "calling", "overdue", "done", "failed")
OPEN_STATUSES = ("waiting", "due", "calling", "overdue")


class CallbackRequest(Base):
    """What the website sent, as it was accepted (personal data: name and phone)."""

    __tablename__ = "callback_requests"
    __table_args__ = (Index("ix_callback_requests_phone", "phone"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))  # personal data
    phone: Mapped[str] = mapped_column(String(32))  # E.164, personal data
    # the number's own IANA zone ('' when it does not tell: the centre's applies)
    phone_zone: Mapped[str] = mapped_column(String(64), default="")
    topic: Mapped[str] = mapped_column(String(255), default="")
    window_from: Mapped[datetime]  # the applicant's preferred time, from...
    window_to: Mapped[datetime]  # ...to (UTC; a local time was read in the number's zone)
    consent_at: Mapped[datetime]  # consent to personal-data processing was given then
    language: Mapped[str] = mapped_column(String(8), default="ru")
    created_at: Mapped[datetime]


class CallbackTask(Base):
    """The call-back of one request: when it is due, its attempts, who takes it."""

    __tablename__ = "callback_tasks"
    __table_args__ = (
        Index("ix_callback_tasks_status_due", "status", "due_at"),
        Index("ix_callback_tasks_request", "request_id", unique=True),
        Index("ix_callback_tasks_channel", "channel_id"),
        Index("ix_callback_tasks_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("callback_requests.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    due_at: Mapped[datetime | None]  # the next moment it may be dialled; None: never again
    window_to: Mapped[datetime]  # the request's, here for the overdue sweep
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # calls to the applicant
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    # the operator a supervisor gave it to (None: the first free operator)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # the operator of the last attempt
    last_operator_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    last_result: Mapped[str] = mapped_column(String(32), default="")
    last_call_at: Mapped[datetime | None]
    # the attempt on the line: its Originate's ActionID and ChannelId (the call's Linkedid)
    action_id: Mapped[str] = mapped_column(String(80), default="")
    channel_id: Mapped[str] = mapped_column(String(64), default="")
    lease_owner: Mapped[str] = mapped_column(String(80), default="")
    lease_until: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]  # the applicant was put through (the KPI's end)
    call_key: Mapped[str | None] = mapped_column(String(160))  # node:linkedid of that call
    wrapup_id: Mapped[int | None] = mapped_column(ForeignKey("wrapups.id", ondelete="SET NULL"))
    closed_at: Mapped[datetime | None]  # the operator's wrap-up closed it
    # every attempt: {"at", "result", "operator_id", "channel_id"}; and reassignments
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(Text, default="")  # the supervisor's, on reassignment
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
