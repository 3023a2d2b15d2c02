"""``/api/v1/questions``: the register of non-standard questions.

Operators see their own questions and the answered ones (the knowledge base, and
the call backs to make); supervisors with a group see their group's and their own
(and the knowledge base), other supervisors and admins see all; supervisors answer
escalated ones. Other people's applicants in the knowledge base are masked.
Status: open -> escalated -> answered -> informed -> closed (open -> answered when
the operator finds the answer; open -> closed for duplicates).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from callagent.api.originate import place_from_operator
from callagent.api.schemas import AwareTime, BodyId, Problem
from callagent.api.security import Db, Requires
from callagent.auth.masking import mask_contact, mask_name, mask_phone
from callagent.auth.scopes import Role, Scope
from callagent.auth.service import Principal, audit
from callagent.db.models import Call, User
from callagent.db.wrapup_models import Question
from callagent.errors import ServiceError
from callagent.originate import normalise_number
from callagent.questions.service import (
    KNOWLEDGE_STATUSES,
    Answer,
    QuestionFilter,
    assign,
    change_status,
    correct_answer,
    create_question,
    edit_details,
    list_questions,
    question_payload,
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
    assignee_id: int | None = None
    assigned_at: datetime | None = None
    assigned_by: int | None = None


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
    preferred_time: AwareTime | None = Field(
        default=None, description="when to answer (ISO 8601, with offset)"
    )


class QuestionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Status | None = None
    text: str | None = Field(default=None, min_length=1, max_length=10_000)
    applicant_name: str | None = Field(default=None, max_length=255)
    applicant_phone: str | None = Field(default=None, max_length=32)
    answer_channel: Channel | None = None
    contact: str | None = Field(default=None, max_length=255)
    preferred_time: AwareTime | None = None
    answer: str | None = Field(default=None, max_length=20_000)
    answer_source_kind: Source | None = None
    answer_source_ref: str | None = Field(default=None, max_length=512)
    assignee_id: BodyId | None = Field(
        default=None,
        description="give the question to this user (needs questions:answer); null: to nobody",
    )


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
    return normalise_number(raw)  # a 422 OriginateError for anything but a number


@dataclass(frozen=True)
class Viewer:
    """Who looks at the register, and whose questions they see in full.

    ``circle`` holds the operators (user ids) whose questions the principal sees and
    changes: an operator their own, a supervisor with a group the group's and their
    own; None: everyone's. Beyond it only the knowledge base, applicants masked.
    """

    principal: Principal
    circle: frozenset[int] | None

    def owns(self, question: Question) -> bool:
        """Whether the question is in the principal's circle (registered by or assigned to
        someone in it)."""
        return (
            self.circle is None
            or question.operator_id in self.circle
            or question.assignee_id in self.circle
        )

    def sees(self, question: Question) -> bool:
        """Whether the principal may read the question at all."""
        return self.owns(question) or question.status in KNOWLEDGE_STATUSES

    def in_clear(self, question: Question) -> bool:
        """Whether the applicant's name, number and contact are shown unmasked."""
        return Scope.CALLS_READ_PII in self.principal.scopes and self.owns(question)


def viewer(db: Session, principal: Principal) -> Viewer:
    """The principal with their circle (as ``GET /api/v1/wrapups`` limits supervisors)."""
    if principal.role == Role.OPERATOR:
        own = {principal.user_id} if principal.user_id is not None else set()
        return Viewer(principal, frozenset(own))
    if principal.sees_only_group_calls:
        group = db.scalars(select(User.id).where(User.group == principal.group)).all()
        own = {principal.user_id} if principal.user_id is not None else set()
        return Viewer(principal, frozenset({*group, *own}))
    return Viewer(principal, None)


def present(question: Question, who: Viewer) -> QuestionOut:
    """The question as this viewer may see it: applicants' data masked unless in clear."""
    out = QuestionOut.model_validate(question_payload(question))
    if who.in_clear(question):
        return out
    return out.model_copy(
        update={
            "applicant_name": mask_name(out.applicant_name),
            "applicant_phone": mask_phone(out.applicant_phone) if out.applicant_phone else "",
            "contact": mask_contact(out.contact),
        }
    )


def _not_yours(detail: str) -> ServiceError:
    return ServiceError(403, detail, code="question_not_yours")


def _check_assignee(db: Session, who: Viewer, question: Question, assignee_id: int | None) -> None:
    """Refuse an assignment the principal may not make (answerers assign their circle's
    questions to people in their circle)."""
    if Scope.QUESTIONS_ANSWER not in who.principal.scopes:
        raise ServiceError(
            403, "assigning a question needs questions:answer", code="question_assign_scope"
        )
    if not who.owns(question):
        raise _not_yours("supervisors assign their group's questions only")
    if assignee_id is None:
        return
    user = db.get(User, assignee_id)
    if user is None or not user.active:
        raise ServiceError(
            422,
            f"no active user with id {assignee_id} to assign the question to",
            code="question_assignee_unknown",
        )
    if who.circle is not None and assignee_id not in who.circle:
        raise _not_yours("supervisors assign questions to their group only")


def _get(db: Session, who: Viewer, question_id: int) -> Question:
    question = db.get(Question, question_id)
    if question is None:
        raise HTTPException(404, f"no question with id {question_id}")
    if not who.sees(question):
        raise HTTPException(403, f"question {question_id} is not one you may see")
    return question


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
    due_before: Annotated[
        AwareTime | None, Query(description="due at or before (ISO 8601, with offset)")
    ] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="text in question or answer")
    ] = None,
    waiting: Annotated[
        bool,
        Query(description="only those whose applicant still waits (open, escalated, answered)"),
    ] = False,
    mine: Annotated[
        bool, Query(description="only those the caller registered or was assigned")
    ] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> QuestionPage:
    who = viewer(db, principal)
    text = (q or "").strip() or None
    total, rows = list_questions(
        db,
        QuestionFilter(
            status,
            operator_id,
            due_before,
            text,
            who.circle,
            waiting=waiting,
            mine=(principal.user_id or 0) if mine else None,
        ),
        limit=limit,
        offset=offset,
    )
    items = [present(row, who) for row in rows]
    # Like GET /api/v1/calls: a listing with applicants in the clear is audited, for
    # sessions and tokens alike; rows counts the questions shown unmasked.
    clear = sum(1 for row in rows if who.in_clear(row))
    if clear:
        filters = {
            "status": status,
            "operator_id": operator_id,
            "due_before": due_before,
            "q": bool(text),
        }
        audit(
            db,
            principal=principal,
            action="questions.list",
            detail={k: str(v) for k, v in filters.items() if v},
            rows=clear,
        )
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
    # a QuestionError leaves uncommitted (the session rolls back) and answers with its status
    question = create_question(
        db,
        text=body.text.strip(),
        answer_channel=body.answer_channel,
        now=utcnow(),
        applicant_name=body.applicant_name.strip(),
        applicant_phone=phone,
        contact=contact or phone,
        preferred_time=body.preferred_time,
        operator_id=principal.user_id,
        call_id=body.call_id,
        call_key=call_key,
    )
    db.commit()
    return present(question, viewer(db, principal))


@router.get("/{question_id}", response_model=QuestionOut, summary="One question", responses=_ERRORS)
def questions_get(question_id: QuestionId, db: Db, principal: Reader) -> QuestionOut:
    who = viewer(db, principal)
    return present(_get(db, who, question_id), who)


@router.patch(
    "/{question_id}",
    response_model=QuestionOut,
    summary="Escalate, answer (with its source), mark informed, close, or edit",
    responses=_ERRORS,
)
def questions_patch(
    question_id: QuestionId, body: QuestionPatch, db: Db, principal: Writer
) -> QuestionOut:
    who = viewer(db, principal)
    question = _get(db, who, question_id)
    answerer = Scope.QUESTIONS_ANSWER in principal.scopes
    own = principal.user_id is not None and principal.user_id in (
        question.operator_id,
        question.assignee_id,
    )
    if not who.owns(question) and question.status != "answered":
        raise _not_yours(
            "you change your own questions (supervisors: their group's) and mark answered "
            "ones of others informed or closed after calling back"
        )
    answering = body.status == "answered" or (
        body.answer is not None and question.status in ("answered", "informed")
    )
    if answering and not answerer and not (own and question.status == "open"):
        raise ServiceError(
            403,
            "answering an escalated or someone else's question needs questions:answer",
            code="question_answer_scope",
        )
    if answering and not who.owns(question):
        raise _not_yours("supervisors answer their group's questions only")
    assigning = "assignee_id" in body.model_fields_set
    if assigning:
        _check_assignee(db, who, question, body.assignee_id)
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
        details["preferred_time"] = body.preferred_time
    if details and not who.owns(question):
        raise _not_yours("operators edit their own questions only (supervisors: group's)")
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
    # a QuestionError leaves uncommitted (the session rolls back) and answers with its status
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
        # a corrected answer is reported again, so integrators do not keep the old one
        correct_answer(db, question=question, answer=answer, now=now, by_user_id=principal.user_id)
    if assigning and assign(question, body.assignee_id, now=now, by_user_id=principal.user_id):
        # who deals with an applicant's question is a supervisor's decision: audited
        audit(
            db,
            principal=principal,
            action="questions.assign",
            detail={"question_id": question.id, "assignee_id": body.assignee_id},
            rows=1,
        )
    db.commit()
    return present(question, who)


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
    who = viewer(db, principal)
    question = _get(db, who, question_id)
    if question.status == "closed":
        raise ServiceError(
            409,
            f"question {question_id} is closed",
            code="question_closed",
            params={"question": question_id},
        )
    number = question.contact if question.answer_channel != "email" else ""
    number = number or question.applicant_phone
    if not number:
        raise ServiceError(
            422,
            f"question {question_id} has no phone number to call back",
            code="question_no_phone",
            params={"question": question_id},
        )
    operator_id = body.operator_id if body.operator_id is not None else principal.user_id
    placed = await place_from_operator(
        request,
        db,
        principal,
        operator_id=operator_id,
        number=number,
        node=body.node,
        may_use=lambda user_id: who.circle is None or user_id in who.circle,
        refusal="operators call back from their own phone only (supervisors: their group's)",
    )
    question = _get(db, who, question_id)
    question.callback_call_id = placed.call_id
    question.callback_call_key = f"{placed.node}:{placed.linkedid}"
    question.callback_by = operator_id
    question.callback_at = utcnow()
    question.updated_at = question.callback_at
    db.commit()
    return CallbackOut(
        question=present(question, who),
        call_id=placed.call_id,
        node=placed.node,
        linkedid=placed.linkedid,
    )
