"""The register of non-standard questions (job description, section 4).

A question the operator could not answer is registered with how and when the
applicant wants the answer; it is escalated to the supervisor or answered (with
the answer's source), the applicant is informed (often by a call back), and it
is closed. Answered questions are the centre's growing knowledge base, searched
by text. Keyword-only functions; the caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from callagent.db.wrapup_models import ANSWER_CHANNELS, ANSWER_SOURCES, Question
from callagent.errors import ServiceError
from callagent.webhooks.outbox import enqueue

# Which status may follow which. "closed" straight from "open" is for duplicates and
# questions the applicant withdrew.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": ("escalated", "answered", "closed"),
    "escalated": ("answered",),
    "answered": ("informed", "closed"),
    "informed": ("closed",),
    "closed": (),
}
KNOWLEDGE_STATUSES = ("answered", "informed", "closed")  # searchable by everyone
# The applicant still waits for their answer: past its due time such a question is overdue.
WAITING_STATUSES = ("open", "escalated", "answered")
_STAMPS = {
    "escalated": "escalated_at",
    "answered": "answered_at",
    "informed": "informed_at",
    "closed": "closed_at",
}


class QuestionError(ServiceError):
    """A change that cannot be made; ``status`` is the HTTP status to answer with."""


@dataclass(frozen=True)
class Answer:
    """The answer to a question and where it comes from."""

    text: str
    source_kind: str  # regulation, website, supervisor
    source_ref: str = ""


def search_text(question: Question) -> str:
    """What the text search looks in, case-folded (works alike on SQLite and PostgreSQL)."""
    return f"{question.text}\n{question.answer or ''}".casefold()


def create_question(
    session: Session,
    *,
    text: str,
    answer_channel: str,
    now: datetime,
    applicant_name: str = "",
    applicant_phone: str = "",
    contact: str = "",
    preferred_time: datetime | None = None,
    operator_id: int | None = None,
    call_id: int | None = None,
    call_key: str | None = None,
    wrapup_id: int | None = None,
) -> Question:
    """Register a question (status ``open``)."""
    if answer_channel not in ANSWER_CHANNELS:
        raise QuestionError(
            422, f"answer_channel must be one of {', '.join(ANSWER_CHANNELS)}, not {answer_channel}"
        )
    question = Question(
        text=text,
        applicant_name=applicant_name,
        applicant_phone=applicant_phone,
        call_id=call_id,
        call_key=call_key,
        wrapup_id=wrapup_id,
        operator_id=operator_id,
        answer_channel=answer_channel,
        contact=contact,
        preferred_time=preferred_time,
        due_at=preferred_time or now,
        status="open",
        answer=None,
        answer_source_kind=None,
        answer_source_ref="",
        answered_by=None,
        callback_call_id=None,
        callback_call_key=None,
        callback_by=None,
        created_at=now,
        updated_at=now,
        escalated_at=None,
        answered_at=None,
        callback_at=None,
        informed_at=None,
        closed_at=None,
    )
    question.search_text = search_text(question)
    session.add(question)
    session.flush()
    return question


def change_status(
    session: Session,
    *,
    question: Question,
    to: str,
    now: datetime,
    by_user_id: int | None,
    answer: Answer | None = None,
) -> None:
    """Move a question on, enforcing the allowed transitions; ``answered`` needs an answer."""
    if to == question.status:
        return
    if to not in TRANSITIONS:
        raise QuestionError(422, f"unknown status {to!r}; known: {', '.join(TRANSITIONS)}")
    if to not in TRANSITIONS[question.status]:
        allowed = ", ".join(TRANSITIONS[question.status]) or "none (it is closed)"
        raise QuestionError(  # statuses are values: a page names them in its language
            409,
            f"a question that is {question.status} cannot become {to}; allowed: {allowed}",
            code="question_transition",
            params={"status": question.status, "target": to},
        )
    if to == "answered":
        if answer is None or not answer.text.strip():
            raise QuestionError(
                422,
                "an answered question needs 'answer' (the answer's text)",
                code="question_answer_needed",
            )
        set_answer(question, answer, by_user_id=by_user_id)
    question.status = to
    setattr(question, _STAMPS[to], now)
    question.updated_at = now
    if to == "answered":
        _report_answer(session, question, now)


def correct_answer(
    session: Session,
    *,
    question: Question,
    answer: Answer,
    now: datetime,
    by_user_id: int | None,
) -> bool:
    """Rewrite the answer of an answered or informed question; True when it changed.

    A changed answer is reported again as ``question.answered`` (in the caller's
    transaction; the subject carries the time, so integrators get a new event id).
    """
    if question.status not in ("answered", "informed"):
        raise QuestionError(422, "to answer, also set status to 'answered'")
    before = (question.answer, question.answer_source_kind, question.answer_source_ref)
    set_answer(question, answer, by_user_id=by_user_id)
    after = (question.answer, question.answer_source_kind, question.answer_source_ref)
    if after == before:
        return False
    question.updated_at = now
    _report_answer(session, question, now)
    return True


def _report_answer(session: Session, question: Question, now: datetime) -> None:
    session.flush()
    enqueue(
        session,
        event_type="question.answered",
        subject=f"question:{question.id}:{now.isoformat()}",
        ordering_key=f"question:{question.id}",
        data=question_payload(question),
    )


def set_answer(question: Question, answer: Answer, *, by_user_id: int | None) -> None:
    """Write (or rewrite) the answer and its source."""
    if answer.source_kind not in ANSWER_SOURCES:
        raise QuestionError(
            422,
            f"answer_source_kind must be one of {', '.join(ANSWER_SOURCES)} "
            "(a regulation, a website, the supervisor)",
        )
    question.answer = answer.text.strip()
    question.answer_source_kind = answer.source_kind
    question.answer_source_ref = answer.source_ref.strip()
    question.answered_by = by_user_id
    question.search_text = search_text(question)


def assign(
    question: Question, assignee_id: int | None, *, now: datetime, by_user_id: int | None
) -> bool:
    """Give the question to ``assignee_id`` (None: to nobody); True when it changed.

    Not once it is closed: nobody is to deal with it any more.
    """
    if question.assignee_id == assignee_id:
        return False
    if question.status == "closed":
        raise QuestionError(
            409, "a closed question cannot be assigned", code="question_closed", params={}
        )
    question.assignee_id = assignee_id
    question.assigned_at = now
    question.assigned_by = by_user_id
    question.updated_at = now
    return True


def edit_details(question: Question, changes: dict[str, Any], *, now: datetime) -> None:
    """Change the question's text, applicant or how to answer (not once it is closed)."""
    if question.status == "closed":
        raise QuestionError(409, "a closed question cannot be changed")
    for name, value in changes.items():
        setattr(question, name, value)
    if "answer_channel" in changes and question.answer_channel not in ANSWER_CHANNELS:
        raise QuestionError(422, f"answer_channel must be one of {', '.join(ANSWER_CHANNELS)}")
    if "preferred_time" in changes:
        question.due_at = question.preferred_time or question.created_at
    question.search_text = search_text(question)
    question.updated_at = now


@dataclass(frozen=True)
class QuestionFilter:
    """What ``GET /api/v1/questions`` filters on."""

    status: str | None = None
    operator_id: int | None = None
    due_before: datetime | None = None
    text: str | None = None
    # Whose questions (operators' user ids) besides the answered ones (the knowledge
    # base) are listed: an operator's own, a supervisor's group; None: everyone's.
    # A question is someone's when they registered it or it is assigned to them.
    circle: frozenset[int] | None = None
    waiting: bool = False  # only those whose applicant still waits (WAITING_STATUSES)
    mine: int | None = None  # only those this user registered or was assigned


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filtered(query: Select[Any], f: QuestionFilter) -> Select[Any]:
    if f.status:
        query = query.where(Question.status == f.status)
    if f.operator_id is not None:
        query = query.where(Question.operator_id == f.operator_id)
    if f.due_before is not None:
        query = query.where(Question.due_at <= f.due_before)
    if f.text:
        pattern = f"%{_like_escape(f.text.casefold())}%"
        query = query.where(Question.search_text.like(pattern, escape="\\"))
    if f.waiting:
        query = query.where(Question.status.in_(WAITING_STATUSES))
    if f.mine is not None:
        query = query.where(or_(Question.operator_id == f.mine, Question.assignee_id == f.mine))
    if f.circle is not None:
        query = query.where(
            or_(
                Question.operator_id.in_(sorted(f.circle)),
                Question.assignee_id.in_(sorted(f.circle)),
                Question.status.in_(KNOWLEDGE_STATUSES),
            )
        )
    return query


def list_questions(
    session: Session, f: QuestionFilter, *, limit: int = 50, offset: int = 0
) -> tuple[int, list[Question]]:
    """(total matching, one page): the soonest due first, then the newest."""
    total = session.scalar(_filtered(select(func.count()).select_from(Question), f)) or 0
    rows = session.scalars(
        _filtered(select(Question), f)
        .order_by(Question.due_at.asc(), Question.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return int(total), list(rows)


def iso(value: datetime | None) -> str | None:
    """A stored time as ISO 8601 in UTC (as the API and webhooks show times), or None."""
    return None if value is None else value.astimezone(UTC).isoformat()


def question_payload(question: Question) -> dict[str, Any]:
    """A question as the API and the ``question.answered`` webhook show it."""
    return {
        "id": question.id,
        "text": question.text,
        "applicant_name": question.applicant_name,
        "applicant_phone": question.applicant_phone,
        "call_id": question.call_id,
        "call_key": question.call_key,
        "wrapup_id": question.wrapup_id,
        "operator_id": question.operator_id,
        "answer_channel": question.answer_channel,
        "contact": question.contact,
        "preferred_time": iso(question.preferred_time),
        "due_at": iso(question.due_at),
        "status": question.status,
        "answer": question.answer,
        "answer_source_kind": question.answer_source_kind,
        "answer_source_ref": question.answer_source_ref,
        "answered_by": question.answered_by,
        "callback_call_id": question.callback_call_id,
        "callback_call_key": question.callback_call_key,
        "callback_by": question.callback_by,
        "created_at": iso(question.created_at),
        "updated_at": iso(question.updated_at),
        "escalated_at": iso(question.escalated_at),
        "answered_at": iso(question.answered_at),
        "callback_at": iso(question.callback_at),
        "informed_at": iso(question.informed_at),
        "closed_at": iso(question.closed_at),
        "assignee_id": question.assignee_id,
        "assigned_at": iso(question.assigned_at),
        "assigned_by": question.assigned_by,
    }
