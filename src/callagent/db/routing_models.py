"""The routing state several instances share (migration 0023, issue #16).

``waiting_calls``: the calls waiting for an operator, whichever instance the dialplan
asked: their order (priority, then when they began to wait, by PostgreSQL's clock), the
instance holding the call's ``route`` dialogue and when that instance last vouched for
it. ``routing_tried``: the operators each call was offered, and which one it is offered
to now. Used on PostgreSQL (``CALLAGENT_SHARED_ROUTING``); SQLite keeps both in the
router's memory and the tables empty.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from callagent.db.models import Base


class WaitingCall(Base):
    """A call waiting for an operator (told ``wait``, or held on its dialogue)."""

    __tablename__ = "waiting_calls"

    call: Mapped[str] = mapped_column(String(220), primary_key=True)  # node:linkedid
    topic: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    entered_at: Mapped[datetime]
    instance: Mapped[str] = mapped_column(String(200))  # whose dialogue holds or asked it
    heard_at: Mapped[datetime]  # last asked, or last renewed by its holding instance
    held: Mapped[bool] = mapped_column(Boolean, default=False)


class RoutingTried(Base):
    """An operator a call was offered; ``current``: the one it is offered to now."""

    __tablename__ = "routing_tried"
    __table_args__ = (Index("ix_routing_tried_at", "at"),)

    call: Mapped[str] = mapped_column(String(220), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    at: Mapped[datetime]
