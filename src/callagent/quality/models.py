"""QA evaluation's tables (migration 0018): scorecard versions, assignments (the sample),
evaluations and their answers, operators' acknowledgements and disputes.

An evaluation is immutable once submitted: its answers, score, evaluator and scorecard
version never change. A correction is a new evaluation row (``revision`` + 1, who made it
in ``evaluator_id``, why in ``revision_reason``) and the only column ever set on the old
row is ``superseded_by_id``, pointing at the row that replaces it (so "the current
evaluations" are those with ``superseded_by_id`` NULL).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from callagent.db.models import Base

ASSIGNMENT_KINDS = ("sample", "calibration", "manual")  # manual: evaluated without one
ASSIGNMENT_STATUSES = ("open", "done")
RESPONSE_KINDS = ("acknowledged", "disputed")
DISPUTE_OUTCOMES = ("upheld", "rejected")


class ScorecardVersion(Base):
    """A scorecard's definition as it was when evaluations were made with it."""

    __tablename__ = "quality_scorecards"
    __table_args__ = (Index("ix_quality_scorecards_key", "key", "version", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))  # sha256 of the definition
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]


class Assignment(Base):
    """A call given to an evaluator: by the weekly sample, a calibration or by hand."""

    __tablename__ = "quality_assignments"
    __table_args__ = (
        # an evaluator gets a call once (a second sampling run skips it)
        Index("ix_quality_assignments_call", "call_id", "evaluator_id", unique=True),
        Index("ix_quality_assignments_queue", "evaluator_id", "status"),
        Index("ix_quality_assignments_week", "week", "operator_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    evaluator_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    week: Mapped[date]  # the Monday of the call's week (CALLAGENT_TIMEZONE)
    kind: Mapped[str] = mapped_column(String(16))  # sample, calibration
    reason: Mapped[str] = mapped_column(String(64), default="")  # the filters it was drawn by
    status: Mapped[str] = mapped_column(String(16), default="open")  # open, done
    created_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Evaluation(Base):
    """A submitted evaluation of an operator's call (one revision of it)."""

    __tablename__ = "quality_evaluations"
    __table_args__ = (
        Index("ix_quality_evaluations_call", "call_id"),
        Index("ix_quality_evaluations_operator", "operator_id", "call_started_at"),
        Index("ix_quality_evaluations_started", "call_started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    call_started_at: Mapped[datetime]  # the call's start: the reports' period
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    team: Mapped[str] = mapped_column(String(64), default="")  # the operator's group then
    evaluator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    scorecard_id: Mapped[int] = mapped_column(ForeignKey("quality_scorecards.id"))
    assignment_id: Mapped[int | None] = mapped_column(
        ForeignKey("quality_assignments.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(16), default="manual")  # ASSIGNMENT_KINDS
    revision: Mapped[int] = mapped_column(Integer, default=1)
    revision_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("quality_evaluations.id", ondelete="SET NULL")
    )
    revision_reason: Mapped[str] = mapped_column(Text, default="")
    # who made this revision (the first one: the evaluator; later ones: who corrected it)
    revised_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    superseded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("quality_evaluations.id", ondelete="SET NULL")
    )
    score: Mapped[float] = mapped_column(Float)  # percent; 0 with a critical error
    earned: Mapped[float] = mapped_column(Float)
    possible: Mapped[float] = mapped_column(Float)
    critical: Mapped[bool] = mapped_column(Boolean, default=False)
    comment: Mapped[str] = mapped_column(Text, default="")
    submitted_at: Mapped[datetime]


class EvaluationAnswer(Base):
    """One criterion's (or critical error's) answer of an evaluation, with its comment."""

    __tablename__ = "quality_answers"
    __table_args__ = (Index("ix_quality_answers_evaluation", "evaluation_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(
        ForeignKey("quality_evaluations.id", ondelete="CASCADE")
    )
    item_id: Mapped[str] = mapped_column(String(64))
    answer: Mapped[str] = mapped_column(String(8))  # yes, partial, no, na
    points: Mapped[float] = mapped_column(Float)
    possible: Mapped[float] = mapped_column(Float)
    critical: Mapped[bool] = mapped_column(Boolean, default=False)
    comment: Mapped[str] = mapped_column(Text, default="")


class Response(Base):
    """An operator's acknowledgement of an evaluation, or a dispute for the supervisor."""

    __tablename__ = "quality_responses"
    __table_args__ = (
        Index("ix_quality_responses_evaluation", "evaluation_id"),
        Index("ix_quality_responses_open", "kind", "resolved_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(
        ForeignKey("quality_evaluations.id", ondelete="CASCADE")
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))  # acknowledged, disputed
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime]
    # a dispute's end: upheld (the evaluation was revised) or rejected, by whom, why
    outcome: Mapped[str | None] = mapped_column(String(16))
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolution: Mapped[str] = mapped_column(Text, default="")
