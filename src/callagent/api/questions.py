"""``/api/v1/questions``: the register of non-standard questions.

Operators see their own questions and the answered ones (the knowledge base, and
the call backs to make); supervisors and admins see all and answer escalated ones.
Status: open -> escalated -> answered -> informed -> closed (open -> answered when
the operator finds the answer; open -> closed for duplicates).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from callagent.api.schemas import BodyId, Problem
from callagent.api.security import Db, Requires
from callagent.auth.masking import mask_name, mask_phone
from callagent.auth.scopes import Role, Scope
from callagent.auth.service import Principal, audit
from callagent.db.models import Call, User
from callagent.db.wrapup_models import Question
from callagent.originate import OriginateError, Originator, normalise_number
from callagent.questions.service import (
    Answer,
    QuestionError,
    QuestionFilter,
    change_status,
    create_question,
    edit_details,
    list_questions,
    question_payload,
    set_answer,
)
from callagent.routing.operators import utcnow

router = APIRouter(prefix="/api/v1/questions", tags=["questions"])
Reader = Annotated[Principal, Depends(Requires(Scope.QUESTIONS_READ))]
Writer = Annotated[Principal, Depends(Requires(Scope.QUESTIONS_WRITE))]
Caller = Annotated[Principal, Depends(Requires(Scope.QUESTIONS_WRITE, Scope.CALLS_ORIGINATE))]
QuestionId = Annotated[int, Path(ge=1, le=2_147_483_647, description="question id")]
Status = Literal["open", "escalated", "answered", "informed", "closed"]
Channel = Literal["call_back", "sms", "email"]
Source = Literal["regulation", "website", "supervisor"]
_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": Problem},
    404: {"model": Problem},
    409: {"model": Problem},
    422: {"model": Problem},
}


class QuestionOut(BaseModel):
    id: int
    text: str
    applicant_name: str
    applicant_phone: str
    call_id: int | None
    call_key: str | None
    wrapup_id: int | None
    operator_id: int | None
    answer_channel: str
    contact: str
    preferred_time: datetime | None
    due_at: datetime
    status: Status
    answer: str | None
    answer_source_kind: str | None
    answer_source_ref: str
    answered_by: int | None
    callback_call_id: int | None
    callback_call_key: str | None
    callback_by: int | None
    created_at: datetime
    updated_at: datetime
    escalated_at: datetime | None
    answered_at: datetime | None
    callback_at: datetime | None
    informed_at: datetime | None
    closed_at: datetime | None


class QuestionPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[QuestionOut]


class QuestionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=10_000, description="the applicant's question")
    applicant_name: str = Field(default="", max_length=255)
    applicant_phone: str = Field(default="", max_length=32)
    call_id: BodyId | None = Field(default=None, description="the call it came from")
    answer_channel: Channel = "call_back"
    contact: str = Field(default="", max_length=255, description="phone or e-mail to answer on")
    preferred_time: datetime | None = Field(default=None, description="when to answer (ISO 8601)")


class QuestionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Status | None = None
    text: str | None = Field(default=None, min_length=1, max_length=10_000)
    applicant_name: str | None = Field(default=None, max_length=255)
    applicant_phone: str | None = Field(default=None, max_length=32)
    answer_channel: Channel | None = None
    contact: str | None = Field(default=None, max_length=255)
    preferred_time: datetime | None = None
    answer: str | None = Field(default=None, max_length=20_000)
    answer_source_kind: Source | None = None
    answer_source_ref: str | None = Field(default=None, max_length=512)


class CallbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operator_id: BodyId | None = Field(
        default=None, description="whose phone rings first (default: the caller's own)"
    )
    node: str | None = Field(default=None, max_length=64)


class CallbackOut(BaseModel):
    question: QuestionOut
    call_id: int
    node: str
    linkedid: str


def _phone(raw: str) -> str:
    if not raw.strip():
        return ""
    try:
        return normalise_number(raw)
    except OriginateError as exc:
        raise HTTPException(422, exc.detail) from None


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise HTTPException(422, "times need a time zone, e.g. 2026-11-23T18:00:00+03:00")
    return value


def present(question: Question, principal: Principal) -> QuestionOut:
    """The question as this principal may see it: applicants' data masked without PII."""
    out = QuestionOut.model_validate(question_payload(question))
    if Scope.CALLS_READ_PII in principal.scopes:
        return out
    contact = out.contact
    if "@" in contact:
        user, _, domain = contact.partition("@")
        contact = f"{user[:1]}***@{domain}"
    elif contact:
        contact = mask_phone(contact)
    return out.model_copy(
        update={
            "applicant_name": mask_name(out.applicant_name),
            "applicant_phone": mask_phone(out.applicant_phone) if out.applicant_phone else "",
            "contact": contact,
        }
    )


def _visible(principal: Principal, question: Question) -> bool:
    if principal.role != Role.OPERATOR:
        return True
    return question.operator_id == principal.user_id or question.status in (
        "answered",
        "informed",
        "closed",
    )


def _get(db: Db, principal: Principal, question_id: int) -> Question:
    question = db.get(Question, question_id)
    if question is None:
        raise HTTPException(404, f"no question with id {question_id}")
    if not _visible(principal, question):
        raise HTTPException(403, f"question {question_id} is not one you may see")
    return question


def _problem(exc: QuestionError) -> HTTPException:
    return HTTPException(exc.status, exc.detail)


@router.get(
    "",
    response_model=QuestionPage,
    summary="The register, soonest due first; q searches questions and answers",
    responses=_ERRORS,
)
def questions_list(
    db: Db,
    principal: Reader,
    status: Status | None = None,
    operator_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    due_before: Annotated[datetime | None, Query(description="due at or before (ISO 8601)")] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="text in question or answer")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> QuestionPage:
    _aware(due_before)
    mine = principal.user_id if principal.role == Role.OPERATOR else None
    total, rows = list_questions(
        db,
        QuestionFilter(status, operator_id, due_before, (q or "").strip() or None, mine),
        limit=limit,
        offset=offset,
    )
    items = [present(row, principal) for row in rows]
    if Scope.CALLS_READ_PII in principal.scopes and items and principal.user_id is None:
        audit(db, principal=principal, action="questions.list", detail={}, rows=len(items))
        db.commit()
    return QuestionPage(total=total, limit=limit, offset=offset, items=items)


@router.post(
    "",
    response_model=QuestionOut,
    status_code=201,
    summary="Register a non-standard question",
    responses=_ERRORS,
)
def questions_create(body: QuestionIn, db: Db, principal: Writer) -> QuestionOut:
    call_key = None
    if body.call_id is not None:
        call = db.get(Call, body.call_id)
        if call is None:
            raise HTTPException(404, f"no call with id {body.call_id}")
        call_key = f"{call.node}:{call.linkedid}"
    phone = _phone(body.applicant_phone)
    contact = body.contact.strip()
    if body.answer_channel != "email" and contact:
        contact = _phone(contact)
    if body.answer_channel == "email" and "@" not in contact:
        raise HTTPException(422, "answer_channel email needs an e-mail address in 'contact'")
    try:
        question = create_question(
            db,
            text=body.text.strip(),
            answer_channel=body.answer_channel,
            now=utcnow(),
            applicant_name=body.applicant_name.strip(),
            applicant_phone=phone,
            contact=contact or phone,
            preferred_time=_aware(body.preferred_time),
            operator_id=principal.user_id,
            call_id=body.call_id,
            call_key=call_key,
        )
    except QuestionError as exc:
        db.rollback()
        raise _problem(exc) from None
    db.commit()
    return present(question, principal)


@router.get("/{question_id}", response_model=QuestionOut, summary="One question", responses=_ERRORS)
def questions_get(question_id: QuestionId, db: Db, principal: Reader) -> QuestionOut:
    return present(_get(db, principal, question_id), principal)


@router.patch(
    "/{question_id}",
    response_model=QuestionOut,
    summary="Escalate, answer (with its source), mark informed, close, or edit",
    responses=_ERRORS,
)
def questions_patch(
    question_id: QuestionId, body: QuestionPatch, db: Db, principal: Writer
) -> QuestionOut:
    question = _get(db, principal, question_id)
    answerer = Scope.QUESTIONS_ANSWER in principal.scopes
    own = principal.user_id is not None and question.operator_id == principal.user_id
    if principal.role == Role.OPERATOR and not own and question.status != "answered":
        raise HTTPException(403, "operators change their own questions (and call back answered)")
    answering = body.status == "answered" or (
        body.answer is not None and question.status in ("answered", "informed")
    )
    if answering and not answerer and not (own and question.status == "open"):
        raise HTTPException(
            403, "answering an escalated or someone else's question needs questions:answer"
        )
    now = utcnow()
    details: dict[str, Any] = {}
    for name in ("text", "applicant_name", "answer_channel"):
        value = getattr(body, name)
        if value is not None:
            details[name] = value.strip() if isinstance(value, str) else value
    if body.applicant_phone is not None:
        details["applicant_phone"] = _phone(body.applicant_phone)
    if body.contact is not None:
        channel = body.answer_channel or question.answer_channel
        details["contact"] = body.contact.strip() if channel == "email" else _phone(body.contact)
    if "preferred_time" in body.model_fields_set:
        details["preferred_time"] = _aware(body.preferred_time)
    if details and principal.role == Role.OPERATOR and not own:
        raise HTTPException(403, "operators edit their own questions only")
    answer = None
    if body.answer is not None:
        # a supervisor's own answer is its own source unless they name another
        default_source = "supervisor" if principal.role == Role.SUPERVISOR else ""
        answer = Answer(
            body.answer,
            body.answer_source_kind or question.answer_source_kind or default_source,
            body.answer_source_ref
            if body.answer_source_ref is not None
            else question.answer_source_ref,
        )
    try:
        if details:
            edit_details(question, details, now=now)
        if body.status is not None and body.status != question.status:
            change_status(
                db,
                question=question,
                to=body.status,
                now=now,
                by_user_id=principal.user_id,
                answer=answer,
            )
        elif answer is not None:
            if question.status not in ("answered", "informed"):
                raise QuestionError(422, "to answer, also set status to 'answered'")
            set_answer(question, answer, by_user_id=principal.user_id)
            question.updated_at = now
    except QuestionError as exc:
        db.rollback()
        raise _problem(exc) from None
    db.commit()
    return present(question, principal)


@router.post(
    "/{question_id}/callback",
    response_model=CallbackOut,
    status_code=202,
    summary="Call the applicant back: the operator's phone rings first (click-to-call)",
    responses={
        **_ERRORS,
        429: {"model": Problem},
        502: {"model": Problem},
        503: {"model": Problem},
    },
)
async def questions_callback(
    question_id: QuestionId, body: CallbackIn, request: Request, db: Db, principal: Caller
) -> CallbackOut:
    question = _get(db, principal, question_id)
    if question.status == "closed":
        raise HTTPException(409, f"question {question_id} is closed")
    operator_id = body.operator_id if body.operator_id is not None else principal.user_id
    if operator_id is None:
        raise HTTPException(422, "operator_id is required when calling with an API token")
    if principal.role == Role.OPERATOR and operator_id != principal.user_id:
        raise HTTPException(403, "operators call back from their own phone only")
    operator = db.get(User, operator_id)
    if operator is None or not operator.active:
        raise HTTPException(404, f"no active operator with id {operator_id}")
    if not operator.endpoints:
        raise HTTPException(422, f"operator {operator.login} has no phone endpoint")
    number = question.contact if question.answer_channel != "email" else ""
    number = number or question.applicant_phone
    if not number:
        raise HTTPException(422, f"question {question_id} has no phone number to call back")
    originator: Originator = request.app.state.originator
    try:
        placed = await originator.place(
            actor=principal.actor,
            endpoint=operator.endpoints[0],
            number=normalise_number(number),
            node=body.node,
        )
    except OriginateError as exc:
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
        raise HTTPException(exc.status, exc.detail, headers=headers) from None
    question = _get(db, principal, question_id)
    question.callback_call_id = placed.call_id
    question.callback_call_key = f"{placed.node}:{placed.linkedid}"
    question.callback_by = operator_id
    question.callback_at = utcnow()
    question.updated_at = question.callback_at
    db.commit()
    return CallbackOut(
        question=present(question, principal),
        call_id=placed.call_id,
        node=placed.node,
        linkedid=placed.linkedid,
    )
