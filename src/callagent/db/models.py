"""SQLAlchemy 2 models: call records, their legs and operator attempts, devices."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every engine (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Call(Base):
    """One call record: one per (PBX node, Linkedid)."""

    __tablename__ = "calls"
    __table_args__ = (
        UniqueConstraint("node", "linkedid", name="uq_calls_node_linkedid"),
        Index("ix_calls_started_at", "started_at"),
        Index("ix_calls_operator", "operator_endpoint", "started_at"),
        Index("ix_calls_applicant", "applicant_number", "started_at"),
        Index("ix_calls_final", "final"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node: Mapped[str] = mapped_column(String(64))
    linkedid: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(16))
    caller_number: Mapped[str] = mapped_column(String(64), default="")
    caller_name: Mapped[str] = mapped_column(String(255), default="")
    dialled_number: Mapped[str] = mapped_column(String(64), default="")
    applicant_number: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[datetime]
    queue_entered_at: Mapped[datetime | None]
    first_ring_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    ring_seconds: Mapped[float | None] = mapped_column(Float)
    talk_seconds: Mapped[float | None] = mapped_column(Float)
    hold_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    operator_endpoint: Mapped[str | None] = mapped_column(String(128))
    disposition: Mapped[str] = mapped_column(String(16))
    hangup_by: Mapped[str | None] = mapped_column(String(16))
    hangup_cause: Mapped[int | None] = mapped_column(Integer)
    hangup_cause_text: Mapped[str] = mapped_column(String(64), default="")
    queue_name: Mapped[str] = mapped_column(String(64), default="")
    recording_file: Mapped[str] = mapped_column(String(512), default="")
    final: Mapped[bool] = mapped_column(Boolean, default=False)
    partial: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_by_resync: Mapped[bool] = mapped_column(Boolean, default=False)
    # Built from the PBX's CEL store after a gap (callagent down or disconnected).
    reconstructed: Mapped[bool] = mapped_column(Boolean, default=False)
    variables: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    transfers: Mapped[list[Any]] = mapped_column(JSON, default=list)
    originate: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    timeline: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # The tracker's state of a call in progress (None once final): a restarted
    # callagent restores it and carries on instead of starting a partial record.
    tracker_state: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[datetime]

    legs: Mapped[list[CallLeg]] = relationship(
        back_populates="call", order_by="CallLeg.id", cascade="all, delete-orphan"
    )
    attempts: Mapped[list[CallAttempt]] = relationship(
        back_populates="call", order_by="CallAttempt.seq", cascade="all, delete-orphan"
    )


class CallLeg(Base):
    """One Asterisk channel of a call, with its own times."""

    __tablename__ = "call_legs"
    __table_args__ = (UniqueConstraint("call_id", "uniqueid", name="uq_call_legs_uniqueid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    uniqueid: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(255))
    endpoint: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    cause: Mapped[int | None] = mapped_column(Integer)
    cause_text: Mapped[str] = mapped_column(String(64), default="")
    hangup_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_by_resync: Mapped[bool] = mapped_column(Boolean, default=False)

    call: Mapped[Call] = relationship(back_populates="legs")


class CallAttempt(Base):
    """One ring of an operator's phone for a call, and how it ended."""

    __tablename__ = "call_attempts"
    __table_args__ = (UniqueConstraint("call_id", "seq", name="uq_call_attempts_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    endpoint: Mapped[str] = mapped_column(String(128))
    uniqueid: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(255))
    via: Mapped[str] = mapped_column(String(16))
    rang_from: Mapped[datetime]
    rang_to: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(32))

    call: Mapped[Call] = relationship(back_populates="attempts")


class Device(Base):
    """The PBX's last word on one endpoint: device state, contact, reachability."""

    __tablename__ = "devices"

    node: Mapped[str] = mapped_column(String(64), primary_key=True)
    device: Mapped[str] = mapped_column(String(128), primary_key=True)
    state: Mapped[str] = mapped_column(String(32))
    contact_status: Mapped[str] = mapped_column(String(32), default="")
    reachable: Mapped[bool | None] = mapped_column(Boolean)
    registered: Mapped[bool] = mapped_column(Boolean)
    contact_uri: Mapped[str] = mapped_column(String(255), default="")
    roundtrip_usec: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime]


class User(Base):
    """A person who uses callagent: operator, supervisor or admin.

    Operators are users whose phones (``endpoints``) callagent routes calls to.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(255), default="")
    role: Mapped[str] = mapped_column(String(16))  # operator, supervisor, admin
    password_hash: Mapped[str | None] = mapped_column(String(255))
    endpoints: Mapped[list[Any]] = mapped_column(JSON, default=list)  # ["PJSIP/op1001"]
    skills: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {"passport": 2}
    language: Mapped[str] = mapped_column(String(8), default="ru")
    group: Mapped[str] = mapped_column(String(64), default="")  # a supervisor's team
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # The operator's state (routing): see callagent.routing.states.
    state: Mapped[str] = mapped_column(String(16), default="offline")
    state_reason: Mapped[str] = mapped_column(String(32), default="")
    state_since: Mapped[datetime | None]
    idle_since: Mapped[datetime | None]  # end of the last call or wrap-up: longest idle first
    claimed_call: Mapped[str | None] = mapped_column(String(160))  # "node:linkedid"
    skip_until: Mapped[datetime | None]  # not offered calls before (after a missed call)
    wrapup_until: Mapped[datetime | None]
    # While ``unavailable`` (phone unregistered): the state, and pause reason, the
    # operator goes back to when the phone returns (routing.states.resume_after).
    resume_state: Mapped[str | None] = mapped_column(String(16))
    resume_reason: Mapped[str] = mapped_column(String(32), default="")


class ApiToken(Base):
    """An integrator's bearer token: stored as a SHA-256 of the secret, with scopes."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # first characters, to recognise it
    scopes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class AuthSession(Base):
    """A login session (cookie) of a user, expiring and revocable."""

    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    address: Mapped[str] = mapped_column(String(64), default="")


class AuditEntry(Base):
    """Who read or exported personal data: who, when, what, how many rows."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(160))  # "user:admin" or "token:3:crm"
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rows: Mapped[int] = mapped_column(Integer, default=0)


class WebhookSubscription(Base):
    """An integrator's endpoint and the event types it wants."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(1024))
    event_types: Mapped[list[Any]] = mapped_column(JSON, default=list)
    secret: Mapped[str] = mapped_column(String(128))  # HMAC key; shown once at creation
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class WebhookDelivery(Base):
    """The outbox: one event for one subscription, written in the same transaction
    as the change it reports, then delivered (and retried) by the webhook worker."""

    __tablename__ = "webhook_outbox"
    __table_args__ = (
        Index("ix_webhook_outbox_due", "status", "next_attempt_at"),
        Index("ix_webhook_outbox_order", "subscription_id", "ordering_key", "id"),
        UniqueConstraint("subscription_id", "event_id", name="uq_webhook_outbox_event"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    ordering_key: Mapped[str] = mapped_column(String(160))  # e.g. the call: in order per call
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # delivered, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class OperatorStateChange(Base):
    """Every change of an operator's state, with its time and cause (for reports)."""

    __tablename__ = "operator_state_history"
    __table_args__ = (Index("ix_operator_state_history_user", "user_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32), default="")  # pause reason, no_answer...
    cause: Mapped[str] = mapped_column(String(32))  # api, feature_code, call, device, deadline
    call: Mapped[str | None] = mapped_column(String(160))
