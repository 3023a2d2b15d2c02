"""``/api/v1/wrapup-forms``, ``/api/v1/wrapups``, ``/api/v1/calls/{id}/wrapup``,
``/api/v1/callers/{number}/history``: after-call work over JSON.

Who may touch a wrap-up: operators their own; supervisors those of their group (all
when they have no group); admins and API tokens all. Form errors come back as 422
``{"detail": [{"field": name | null, "message": text, "code": ...}]}``, every error at
once, in the user's language (``users.language``); ``?lang=ru|uk|en`` overrides it, and
API tokens get the ``Accept-Language`` header's language (Russian by default).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from callagent.api.pii_search import allow_phone_search, audit_phone_search
from callagent.api.questions import viewer as question_viewer
from callagent.api.schemas import BodyId, Id, Problem, StartedSince, StartedUntil
from callagent.api.security import Db, Requires
from callagent.auth.masking import mask_contact, mask_name, mask_phone
from callagent.auth.scopes import Role, Scope
from callagent.auth.service import Principal
from callagent.db.models import User
from callagent.db.queries import operators_by_endpoint
from callagent.db.wrapup_models import Question, Wrapup, WrapupChange
from callagent.languages import LANGUAGES
from callagent.routing.operators import utcnow
from callagent.wrapup.access import (
    WrapupFilter,
    calls_with_number,
    calls_wrapups,
    list_wrapups,
    may_touch,
    talked_with,
    wrapup_by_id,
    wrapup_for_call,
)
from callagent.wrapup.forms import Forms
from callagent.wrapup.service import (
    Actor,
    InvalidForm,
    WrapupError,
    WrapupService,
    correct,
    extend,
    histories,
    open_status,
    pending_for,
    resolve_calls,
    submit,
    wrapup_payload,
)

if TYPE_CHECKING:
    from callagent.web.live import LiveHub

router = APIRouter(prefix="/api/v1", tags=["wrap-ups"])
Writer = Annotated[Principal, Depends(Requires(Scope.WRAPUPS_WRITE))]
Reader = Annotated[Principal, Depends(Requires(Scope.WRAPUPS_READ))]
CallReader = Annotated[Principal, Depends(Requires(Scope.CALLS_READ))]
OperatorId = Annotated[int | None, Query(ge=1, le=2_147_483_647, description="whose wrap-up")]
_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": Problem},
    404: {"model": Problem},
    409: {"model": Problem},
    422: {"model": Problem},
}


# ----------------------------------------------------------------------- shapes


class Labels(BaseModel):
    """A label in every language (a forms file without ``uk`` gives its ``ru`` there)."""

    ru: str
    uk: str
    en: str


class OptionOut(BaseModel):
    value: str
    label: Labels


class FieldOut(BaseModel):
    name: str
    type: str
    label: Labels
    required: bool
    options: list[OptionOut]
    show_if: dict[str, Any] | None = Field(
        description='{"field": name, "equals": value} or {"field": name, "in": [values]}'
    )
    max_length: int | None = None


class CategoryOut(BaseModel):
    id: str
    title: Labels
    deadline_seconds: int
    hotkey: str | None = None
    creates_question: bool = False
    fields: list[FieldOut]


class FormsOut(BaseModel):
    timezone: str = Field(description="naive date-times in submissions are in this zone")
    categories: list[CategoryOut]


class HistoryOut(BaseModel):
    at: datetime
    action: str = Field(description="submitted, corrected, extended")
    by_user_id: int | None
    by: str
    old_category: str | None
    old_fields: dict[str, Any] | None
    new_category: str | None
    new_fields: dict[str, Any] | None


class WrapupOut(BaseModel):
    id: int
    call_id: int | None
    call_key: str | None
    operator_id: int
    category: str | None
    category_hint: str | None
    fields: dict[str, Any]
    status: Literal["pending", "missed", "submitted"]
    started_at: datetime
    deadline: datetime
    extended: bool
    missed: bool = Field(description="the deadline passed before it was submitted")
    missed_at: datetime | None
    submitted_at: datetime | None
    submitted_by: int | None
    revision: int
    question_id: int | None
    history: list[HistoryOut]


class PendingOut(BaseModel):
    id: int
    call_id: int | None
    call_key: str | None
    status: Literal["pending", "missed"]
    deadline: datetime
    extended: bool
    caller_number: str | None = Field(description="the applicant's number (either direction)")
    direction: str | None
    started_at: datetime
    category_hint: str | None
    question_id: int | None


class WrapupIn(BaseModel):
    category: str | None = Field(default=None, max_length=64, description="a category id")
    fields: dict[str, Any] = Field(default_factory=dict, description="field name -> value")
    operator_id: BodyId | None = Field(
        default=None, description="whose wrap-up, when several operators took the call"
    )


class ExtendOut(BaseModel):
    id: int
    deadline: datetime
    extended: bool


class HistoryCallOut(BaseModel):
    id: int
    started_at: datetime
    direction: str
    disposition: str
    applicant_number: str
    operator_id: int | None
    operator_login: str | None
    talk_seconds: float | None
    wrapups: list[WrapupOut]


class CallerHistoryOut(BaseModel):
    number: str
    calls: list[HistoryCallOut]
    open_questions: list[dict[str, Any]]


# ---------------------------------------------------------------------- helpers


def _service(request: Request) -> WrapupService:
    service: WrapupService = request.app.state.wrapups
    return service


def language(request: Request, db: Session, principal: Principal) -> str:
    """The language of messages: ``?lang=``, the user's own, Accept-Language, Russian."""
    explicit = request.query_params.get("lang", "")
    if explicit in LANGUAGES:
        return explicit
    if principal.user_id is not None:
        user = db.get(User, principal.user_id)
        if user is not None and user.language in LANGUAGES:
            return user.language
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return "ru"


def _actor(principal: Principal) -> Actor:
    return Actor(principal.actor, principal.user_id)


@contextmanager
def _committed(request: Request, db: Session, principal: Principal) -> Iterator[None]:
    """Commit what the block changed; a refused change rolls back (a WrapupError then
    answers with its own status, an invalid form with its field errors in the page's
    language)."""
    try:
        yield
    except InvalidForm as exc:
        db.rollback()
        lang = language(request, db, principal)
        raise HTTPException(422, [error.to_json(lang) for error in exc.errors]) from None
    except WrapupError:
        db.rollback()
        raise
    db.commit()


def present(
    db: Session,
    wrapup: Wrapup,
    principal: Principal,
    forms: Forms | None = None,
    history: list[WrapupChange] | None = None,
) -> WrapupOut:
    """A wrap-up as this principal may see it (phones and names masked without PII)."""
    out = WrapupOut.model_validate(wrapup_payload(db, wrapup, history))
    if Scope.CALLS_READ_PII in principal.scopes or forms is None:
        return out
    category = forms.category(wrapup.category or "")
    masked = dict(out.fields)
    for name, value in out.fields.items():
        spec = category.field(name) if category else None
        if not isinstance(value, str):
            continue
        if (spec is not None and spec.type == "phone") or name.startswith("contact"):
            masked[name] = mask_contact(value)
        elif name == "applicant_name":
            masked[name] = mask_name(value)
    return out.model_copy(update={"fields": masked, "history": []})


def _submit(
    request: Request,
    response: Response,
    db: Session,
    principal: Principal,
    wrapup: Wrapup,
    body: WrapupIn,
) -> WrapupOut:
    service = _service(request)
    with _committed(request, db, principal):
        created = submit(
            db,
            wrapup=wrapup,
            category_id=body.category,
            values=body.fields,
            actor=_actor(principal),
            forms=service.forms,
            book=service.book,
            now=utcnow(),
            listeners=service.listeners,
        )
    response.status_code = 201 if created else 200
    return present(db, wrapup, principal, service.forms)


def _correct(
    request: Request, db: Session, principal: Principal, wrapup: Wrapup, body: WrapupIn
) -> WrapupOut:
    service = _service(request)
    with _committed(request, db, principal):
        correct(
            db,
            wrapup=wrapup,
            category_id=body.category,
            values=body.fields,
            actor=_actor(principal),
            forms=service.forms,
            now=utcnow(),
            listeners=service.listeners,
        )
    return present(db, wrapup, principal, service.forms)


# ----------------------------------------------------------------------- routes


@router.get(
    "/wrapup-forms",
    response_model=FormsOut,
    summary="The wrap-up categories and their forms (from the forms file)",
)
def wrapup_forms(request: Request, _: Reader) -> FormsOut:
    return FormsOut.model_validate(_service(request).forms.to_json())


@router.get(
    "/wrapups/pending",
    response_model=list[PendingOut],
    summary="Open (pending or missed) wrap-ups of the current user (or of operator_id)",
    responses=_ERRORS,
)
def wrapups_pending(
    db: Db,
    principal: Writer,
    operator_id: Annotated[
        int | None, Query(ge=1, le=2_147_483_647, description="tokens and supervisors")
    ] = None,
) -> list[PendingOut]:
    target = operator_id if operator_id is not None else principal.user_id
    if target is None:
        raise HTTPException(422, "operator_id is required when calling with an API token")
    if not may_touch(db, principal, target):
        raise HTTPException(403, "operators see only their own wrap-ups")
    now = utcnow()
    rows = pending_for(db, operator_id=target)
    calls = resolve_calls(db, rows)
    db.commit()
    out = []
    for row in rows:
        call = calls.get(row.id)
        number = (call.applicant_number or call.caller_number) if call is not None else None
        if number and Scope.CALLS_READ_PII not in principal.scopes:
            number = mask_phone(number)
        out.append(
            PendingOut(
                id=row.id,
                call_id=row.call_id,
                call_key=row.call_key,
                status=open_status(row, now),
                deadline=row.deadline,
                extended=row.extended,
                caller_number=number or None,
                direction=call.direction if call is not None else None,
                started_at=row.started_at,
                category_hint=row.category_hint,
                question_id=row.question_id,
            )
        )
    return out


@router.post(
    "/calls/{call_id}/wrapup",
    response_model=WrapupOut,
    status_code=201,
    summary="Submit the wrap-up of a call (frees the operator); the same again is a no-op",
    responses={200: {"model": WrapupOut, "description": "already stored so"}, **_ERRORS},
)
def wrapups_submit_for_call(
    call_id: Id,
    body: WrapupIn,
    request: Request,
    response: Response,
    db: Db,
    principal: Writer,
) -> WrapupOut:
    wrapup = wrapup_for_call(
        db, principal, call_id, body.operator_id, _service(request), create=True
    )
    return _submit(request, response, db, principal, wrapup, body)


@router.post(
    "/wrapups/{wrapup_id}/submit",
    response_model=WrapupOut,
    status_code=201,
    summary="Submit a wrap-up by its id (also before the call record is written)",
    responses={200: {"model": WrapupOut, "description": "already stored so"}, **_ERRORS},
)
def wrapups_submit(
    wrapup_id: Id,
    body: WrapupIn,
    request: Request,
    response: Response,
    db: Db,
    principal: Writer,
) -> WrapupOut:
    wrapup = wrapup_by_id(db, principal, wrapup_id)
    return _submit(request, response, db, principal, wrapup, body)


@router.patch(
    "/calls/{call_id}/wrapup",
    response_model=WrapupOut,
    summary="Correct a submitted wrap-up (the old values stay in its history)",
    responses=_ERRORS,
)
def wrapups_correct_for_call(
    call_id: Id, body: WrapupIn, request: Request, db: Db, principal: Writer
) -> WrapupOut:
    wrapup = wrapup_for_call(
        db, principal, call_id, body.operator_id, _service(request), create=False
    )
    return _correct(request, db, principal, wrapup, body)


@router.patch(
    "/wrapups/{wrapup_id}",
    response_model=WrapupOut,
    summary="Correct a submitted wrap-up by its id",
    responses=_ERRORS,
)
def wrapups_correct(
    wrapup_id: Id,
    body: WrapupIn,
    request: Request,
    db: Db,
    principal: Writer,
) -> WrapupOut:
    return _correct(request, db, principal, wrapup_by_id(db, principal, wrapup_id), body)


@router.post(
    "/wrapups/{wrapup_id}/extend",
    response_model=ExtendOut,
    summary="Give a pending wrap-up more time, once (CALLAGENT_WRAPUP_EXTEND_SECONDS)",
    responses=_ERRORS,
)
def wrapups_extend(
    wrapup_id: Id,
    request: Request,
    db: Db,
    principal: Writer,
) -> ExtendOut:
    wrapup = wrapup_by_id(db, principal, wrapup_id)
    with _committed(request, db, principal):
        deadline = extend(
            db,
            wrapup=wrapup,
            seconds=_service(request).extend_seconds,
            actor=_actor(principal),
            now=utcnow(),
        )
    return ExtendOut(id=wrapup.id, deadline=deadline, extended=True)


@router.get(
    "/calls/{call_id}/wrapup",
    response_model=WrapupOut,
    summary="The wrap-up of a call",
    responses=_ERRORS,
)
def wrapups_get_for_call(
    call_id: Id,
    request: Request,
    db: Db,
    principal: Reader,
    operator_id: OperatorId = None,
) -> WrapupOut:
    service = _service(request)
    wrapup = wrapup_for_call(db, principal, call_id, operator_id, service, create=False)
    return present(db, wrapup, principal, service.forms)


@router.get(
    "/wrapups/{wrapup_id}",
    response_model=WrapupOut,
    summary="One wrap-up with its history",
    responses=_ERRORS,
)
def wrapups_get(
    wrapup_id: Id,
    request: Request,
    db: Db,
    principal: Reader,
) -> WrapupOut:
    return present(db, wrapup_by_id(db, principal, wrapup_id), principal, _service(request).forms)


@router.get(
    "/wrapups",
    response_model=list[WrapupOut],
    summary="Wrap-ups, newest first (operators: their own; supervisors: their group)",
    responses=_ERRORS,
)
def wrapups_list(
    request: Request,
    db: Db,
    principal: Reader,
    operator_id: OperatorId = None,
    status: Literal["pending", "missed", "submitted"] | None = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    missed: Annotated[bool | None, Query(description="the deadline passed first")] = None,
    since: StartedSince = None,
    until: StartedUntil = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> list[WrapupOut]:
    where = WrapupFilter(operator_id, status, category, missed, since, until)
    rows = list_wrapups(db, principal, where, limit=limit, offset=offset)
    resolve_calls(db, rows)
    db.commit()
    forms = _service(request).forms
    changes = histories(db, [row.id for row in rows])
    return [present(db, row, principal, forms, changes[row.id]) for row in rows]


@router.get(
    "/callers/{number}/history",
    response_model=CallerHistoryOut,
    summary="Earlier calls with this number and their wrap-ups (the operator's pop-up)",
    description="A search by number: needs `calls:read_pii`, is limited per user or token "
    "(CALLAGENT_PHONE_SEARCH_PER_MINUTE) and is audited.",
    responses={**_ERRORS, 429: {"model": Problem}},
)
def caller_history(
    number: Annotated[str, Path(min_length=1, max_length=32)],
    request: Request,
    db: Db,
    principal: CallReader,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> CallerHistoryOut:
    digits = "".join(ch for ch in number if ch.isdigit())
    if not 3 <= len(digits) <= 15:
        raise HTTPException(422, f"{number!r} is not a phone number")
    # how many calls a number had tells it even masked: PII scope, limited, audited
    allow_phone_search(request, principal)
    if principal.role == Role.OPERATOR and not (
        _rings_at_them(request, principal, digits) or talked_with(db, principal, digits)
    ):
        raise HTTPException(403, "operators see the history of numbers they are talking to")
    group = principal.sees_only_group_calls
    calls = calls_with_number(db, principal, digits, limit=limit)
    owners = operators_by_endpoint(db)
    forms = _service(request).forms
    by_call = calls_wrapups(db, calls)
    changes = histories(db, {w.id for wrapups in by_call.values() for w in wrapups})
    out: list[HistoryCallOut] = []
    for call in calls:
        owner = owners.get(call.operator_endpoint or "")
        # An operator's pop-up shows the caller's earlier wrap-ups, whoever wrote them;
        # a group's supervisor sees those of their group (as GET /api/v1/wrapups).
        wrapups = [
            w
            for w in by_call[call.id]
            if w.status == "submitted" and (not group or may_touch(db, principal, w.operator_id))
        ]
        out.append(
            HistoryCallOut(
                id=call.id,
                started_at=call.started_at,
                direction=call.direction,
                disposition=call.disposition,
                applicant_number=call.applicant_number,
                operator_id=owner[0] if owner else None,
                operator_login=owner[1] if owner else None,
                talk_seconds=call.talk_seconds,
                wrapups=[present(db, w, principal, forms, changes[w.id]) for w in wrapups],
            )
        )
    questions = db.scalars(
        select(Question)
        .where(Question.applicant_phone == digits, Question.status != "closed")
        .order_by(Question.id.desc())
        .limit(20)
    ).all()
    if group:  # the group's questions and the knowledge base, as GET /api/v1/questions
        who = question_viewer(db, principal)
        questions = [q for q in questions if who.sees(q)]
    open_questions = [
        {"id": q.id, "status": q.status, "text": q.text, "due_at": q.due_at.isoformat()}
        for q in questions
    ]
    audit_phone_search(db, principal, action="callers.history", number=digits, rows=len(out))
    return CallerHistoryOut(number=digits, calls=out, open_questions=open_questions)


def _rings_at_them(request: Request, principal: Principal, digits: str) -> bool:
    """The call ringing at (or answered on) the operator's phone now: its pop-up asks for
    the history at the first ring, before the writer has stored the call."""
    hub: LiveHub | None = getattr(request.app.state, "live", None)
    return hub is not None and hub.rings_at(digits, principal.endpoints)
