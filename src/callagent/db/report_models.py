"""The reports' interval aggregates: per-interval sums that stand in for the calls and
the operators' state history in long reports, and the queue of what changed since.

Rows are keyed by (level, start, dim, value): ``level`` 0 is a 15-minute interval, 1 an
hour, 2 a day, all in UTC (so a daylight-saving change never splits one); ``dim`` is
'' (everything), 'operator', 'topic' or 'did' and ``value`` the group's key (a login,
a topic, a dialled number). 15-minute rows exist for dim '' only. See
:mod:`callagent.reports.aggregates` for how they are built and read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from callagent.db.models import Base

LEVEL_QUARTER, LEVEL_HOUR, LEVEL_DAY = 0, 1, 2


class ReportAggregate(Base):
    """The additive figures of one group in one interval (see :class:`CallTally`)."""

    __tablename__ = "report_aggregates"
    __table_args__ = (Index("ix_report_aggregates_start", "start", "level"),)

    level: Mapped[int] = mapped_column(Integer, primary_key=True)
    dim: Mapped[str] = mapped_column(String(16), primary_key=True)
    start: Mapped[datetime] = mapped_column(primary_key=True)
    value: Mapped[str] = mapped_column(String(160), primary_key=True)
    offered: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    abandoned: Mapped[int] = mapped_column(Integer, default=0)
    short_abandoned: Mapped[int] = mapped_column(Integer, default=0)
    unanswered: Mapped[int] = mapped_column(Integer, default=0)
    answered_within_threshold: Mapped[int] = mapped_column(Integer, default=0)
    abandoned_within_threshold: Mapped[int] = mapped_column(Integer, default=0)
    transferred: Mapped[int] = mapped_column(Integer, default=0)
    repeat_24h: Mapped[int] = mapped_column(Integer, default=0)
    repeat_7d: Mapped[int] = mapped_column(Integer, default=0)
    answered_wait_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    talk_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    hold_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    acw_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    longest_wait_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    logged_in_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    paused_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    busy_seconds: Mapped[float] = mapped_column(Float, default=0.0)


class ReportAggregatePause(Base):
    """Pauses by reason of one group in one interval: begun there (count), seconds."""

    __tablename__ = "report_aggregate_pauses"
    __table_args__ = (Index("ix_report_aggregate_pauses_start", "start", "level"),)

    level: Mapped[int] = mapped_column(Integer, primary_key=True)
    dim: Mapped[str] = mapped_column(String(16), primary_key=True)
    start: Mapped[datetime] = mapped_column(primary_key=True)
    value: Mapped[str] = mapped_column(String(160), primary_key=True)
    reason: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)


class ReportDirty(Base):
    """Something the aggregates may count differently now, written by database triggers
    in the same transaction as the change (so no writer can forget it): ``call`` (an
    ended inbound call written, corrected or deleted: ``at`` its start, ``ref`` its
    caller), ``state`` (an operator's state change: ``ref`` the user id), ``users`` (an
    operator's login or phones changed: every operator key may change)."""

    __tablename__ = "report_dirty"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime | None]
    ref: Mapped[str] = mapped_column(String(64), default="")


class ReportAggregateState(Base):
    """One row: what the aggregates cover (``[covered_from, horizon)``, whole hours) and
    the KPI options they were counted with (another threshold: they do not apply)."""

    __tablename__ = "report_aggregate_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    covered_from: Mapped[datetime | None]
    horizon: Mapped[datetime | None]
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime | None]
