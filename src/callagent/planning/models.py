"""The schedules' tables (migration 0017; teams: 0024): shift templates, operators'
availability and time-off requests, and each week's schedule with its shifts and
breaks."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from callagent.db.models import Base

TIME_OFF_KINDS = ("day_off", "vacation")
TIME_OFF_STATUSES = ("requested", "approved", "refused")  # refused ones do not count
SCHEDULE_STATUSES = ("draft", "published")  # operators see a published week only


class ShiftTemplate(Base):
    """A kind of shift: its length with the lunch, the window of its start (minutes
    after midnight, on the 15-minute grid) and its lunch (0: none)."""

    __tablename__ = "shift_templates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    minutes: Mapped[int] = mapped_column(Integer)
    earliest_start: Mapped[int] = mapped_column(Integer)
    latest_start: Mapped[int] = mapped_column(Integer)
    lunch_minutes: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class OperatorAvailability(Base):
    """When an operator may work on a weekday: ``[start_minute, end_minute)`` after
    midnight. An operator without rows may work any day; with rows, only those days."""

    __tablename__ = "operator_availability"
    __table_args__ = (UniqueConstraint("user_id", "weekday", name="uq_availability_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    weekday: Mapped[int] = mapped_column(Integer)  # 0 Monday
    start_minute: Mapped[int] = mapped_column(Integer)
    end_minute: Mapped[int] = mapped_column(Integer)


class TimeOffRequest(Base):
    """A day off or a vacation an operator asked for: ``first_day``-``last_day``."""

    __tablename__ = "time_off_requests"
    __table_args__ = (Index("ix_time_off_user_days", "user_id", "first_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    first_day: Mapped[date]
    last_day: Mapped[date]
    kind: Mapped[str] = mapped_column(String(16), default="day_off")
    status: Mapped[str] = mapped_column(String(16), default="requested")
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class Schedule(Base):
    """A week's schedule (one per week: a new build replaces it) with the need it was
    built for and how well it covers it."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    week_start: Mapped[date] = mapped_column(unique=True)  # a Monday, the centre's clock
    zone: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    # staff needed per 15-minute slot of the week (672 numbers), for the coverage chart,
    # the break re-plan and the checks of hand edits
    required: Mapped[list[Any]] = mapped_column(JSON, default=list)
    under: Mapped[int] = mapped_column(Integer, default=0)  # agent-slots missing
    over: Mapped[int] = mapped_column(Integer, default=0)
    lower_bound: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    solver_status: Mapped[str] = mapped_column(String(32), default="")
    built_by: Mapped[str] = mapped_column(String(128), default="")
    # per team (the operators' group) when built for several: {team: {"share", "required"
    # (672 numbers), "under", "over", "lower_bound", "source"}}; {}: the whole centre
    teams: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    built_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    shifts: Mapped[list[ScheduleShift]] = relationship(
        back_populates="schedule", cascade="all, delete-orphan", order_by="ScheduleShift.start_at"
    )


class ScheduleShift(Base):
    """One operator's shift of a schedule; ``edited``: changed by hand since the build."""

    __tablename__ = "schedule_shifts"
    __table_args__ = (
        Index("ix_schedule_shifts_schedule", "schedule_id"),
        Index("ix_schedule_shifts_user_start", "user_id", "start_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    template: Mapped[str] = mapped_column(String(64), default="")
    team: Mapped[str] = mapped_column(String(64), default="")  # the operator's, at the build
    edited: Mapped[bool] = mapped_column(Boolean, default=False)
    schedule: Mapped[Schedule] = relationship(back_populates="shifts")
    breaks: Mapped[list[ScheduleBreak]] = relationship(
        back_populates="shift", cascade="all, delete-orphan", order_by="ScheduleBreak.start_at"
    )


class ScheduleBreak(Base):
    """A short break or the lunch within a shift."""

    __tablename__ = "schedule_breaks"
    __table_args__ = (Index("ix_schedule_breaks_shift", "shift_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("schedule_shifts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))  # lunch, break
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    edited: Mapped[bool] = mapped_column(Boolean, default=False)
    shift: Mapped[ScheduleShift] = relationship(back_populates="breaks")
