"""The staffing simulations' table (migration 0021): one row per simulated interval,
its inputs as they were taken from the forecast and its measured figures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from callagent.db.models import Base

SIMULATION_STATUSES = ("running", "done", "failed")


class PlanningSimulation(Base):
    """An interval's recommended staffing played through the simulator: the forecast's
    calls and AHT, the callers' patience (None: nobody hangs up), the agents, and, once
    done, the figures (``result``: simulated and Erlang C/A side by side)."""

    __tablename__ = "planning_simulations"
    __table_args__ = (Index("ix_planning_simulations_start", "interval_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    interval_start: Mapped[datetime]
    interval_minutes: Mapped[int] = mapped_column(Integer)
    team: Mapped[str | None] = mapped_column(String(64), nullable=True)  # None: the centre
    agents: Mapped[int] = mapped_column(Integer)
    calls: Mapped[float] = mapped_column(Float)
    aht_seconds: Mapped[float] = mapped_column(Float)
    patience_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    threshold_seconds: Mapped[float] = mapped_column(Float)
    seed: Mapped[int] = mapped_column(Integer)
    speed: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
