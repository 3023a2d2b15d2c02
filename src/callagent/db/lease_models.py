"""The AMI node leases (migration 0020): one row per node, who follows it and its token."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from callagent.db.models import Base


class NodeLease(Base):
    """Who follows an AMI node until when; ``token`` rises with every new holder."""

    __tablename__ = "node_leases"

    node: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    token: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime]
    acquired_at: Mapped[datetime]
    # times the node changed hands to another instance (for /metrics)
    takeovers: Mapped[int] = mapped_column(Integer, default=0)
