"""``/api/v1/complaints``: the complaints register (seed 003 A/04, seed 001 §3.1.4).

Operators see the complaints they registered or own; supervisors with a group see their
group's and those nobody owns yet; other supervisors and admins see all. Everyone with
``complaints:write`` registers; an owner moves their complaint on; ``complaints:manage``
assigns owners, moves on any complaint it sees and reads the causes report. Applicants
are masked without ``calls:read_pii``.
Status: registered -> in_work -> decided -> answered -> closed; rejected from registered
or in_work; answered, closed and rejected ones reopen to in_work (with a note).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from callagent.api.schemas import BodyId, Problem
from callagent.api.security import Db, Requires
from callagent.auth.masking import mask_name, mask_phone
from callagent.auth.scopes import Role, Scope
from callagent.auth.service import Principal, audit
from callagent.complaints.models import Complaint
from callagent.complaints.service import (
    Clock,
    ComplaintFilter,
    assign,
    causes_report,
    change_status,
    complaint_payload,
    edit_details,
    history,
    history_payload,
    list_complaints,
    register,
    soon_until,
)
from callagent.db.models import Call, User
from callagent.errors import ServiceError
from callagent.originate import normalise_number
from callagent.reports.periods import picked_days
from callagent.routing.operators import utcnow

router = APIRouter(prefix="/api/v1/complaints", tags=["complaints"])
Reader = Annotated[Principal, Depends(Requires(Scope.COMPLAINTS_READ))]
Writer = Annotated[Principal, Depends(Requires(Scope.COMPLAINTS_WRITE))]
Manager = Annotated[Principal, Depends(Requires(Scope.COMPLAINTS_MANAGE))]
ComplaintId = Annotated[int, Path(ge=1, le=2_147_483_647, description="complaint id")]
Status = Literal["registered", "in_work", "decided", "answered", "closed", "rejected"]
Cause = Literal[
    "waiting_time",
    "staff",
    "office",
    "website",
    "wrong_information",
    "service_quality",
    "deadline_missed",
    "other",
]
Received = Literal["phone", "email", "letter", "in_person", "website"]
AnswerChannel = Literal["phone", "sms", "email", "letter"]
MAX_DAYS = 3660  # a register's period, as the reports bound theirs
# Days outside these have no complaints, and year 1 or 9999 overflow in the centre's zone.
Day = Annotated[date, Field(ge=date(2000, 1, 1), le=date(2099, 12, 31))]
_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": Problem},
    404: {"model": Problem},
    409: {"model": Problem},
    422: {"model": Problem},
}


class ComplaintOut(BaseModel):
    id: int
    applicant_name: str
    applicant_phone: str
    subject: str
    office: str
    cause: Cause
    cause_other: str
    channel: Received
    operator_id: int | None
    owner_id: int | None
    status: Status
    registered_at: datetime
    deadline_at: datetime
    updated_at: datetime
    decision: str | None
    decided_at: datetime | None
    answer: str | None
    answer_channel: AnswerChannel | None
    answered_at: datetime | None
    closed_at: datetime | None
    call_id: int | None
    call_key: str | None
    wrapup_id: int | None
    overdue: bool = Field(description="no decision yet and past the deadline")
    due_soon: bool = Field(description="no decision yet, deadline within the due-soon days")


class ChangeOut(BaseModel):
    at: datetime
    action: Literal["registered", "status", "assigned", "edited"]
    by_user_id: int | None
    from_status: Status | None
    to_status: Status | None
    owner_id: int | None
    note: str


class ComplaintDetail(ComplaintOut):
    history: list[ChangeOut]


class ComplaintPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[ComplaintOut]


class ComplaintIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=10_000, description="what it is about")
    cause: Cause = "other"
    cause_other: str = Field(default="", max_length=255, description="the cause, when other")
    office: str = Field(default="", max_length=255, description="the office or service concerned")
    channel: Received = "phone"
    applicant_name: str = Field(default="", max_length=255)
    applicant_phone: str = Field(default="", max_length=32)
    call_id: BodyId | None = Field(default=None, description="the call it came from")


class ComplaintPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Status | None = None
    note: str = Field(default="", max_length=2_000, description="why (a reopening needs it)")
    decision: str | None = Field(default=None, max_length=20_000)
    answer: str | None = Field(default=None, max_length=20_000)
    answer_channel: AnswerChannel | None = None
    owner_id: BodyId | None = Field(
        default=None, description="give it to this user (complaints:manage); null: to nobody"
    )
    subject: str | None = Field(default=None, min_length=1, max_length=10_000)
    cause: Cause | None = None
    cause_other: str | None = Field(default=None, max_length=255)
    office: str | None = Field(default=None, max_length=255)
    channel: Received | None = None
    applicant_name: str | None = Field(default=None, max_length=255)
    applicant_phone: str | None = Field(default=None, max_length=32)


class CauseRow(BaseModel):
    period: str = Field(description="2026-12-04 (day), the week's Monday, or 2026-12 (month)")
    cause: Cause
    office: str
    count: int


class CausesOut(BaseModel):
    first_day: date
    last_day: date
    by: Literal["day", "week", "month"]
    rows: list[CauseRow]


@dataclass(frozen=True)
class Viewer:
    """Who looks at the register and whose complaints they see.

    ``circle``: the users whose complaints (registered or owned) the principal sees: an
    operator themselves, a supervisor with a group the group and themselves; None:
    everyone's. ``unowned``: also those nobody owns yet (a group supervisor's to hand out).
    """

    principal: Principal
    circle: frozenset[int] | None
    unowned: bool

    def sees(self, complaint: Complaint) -> bool:
        """Whether the principal may read the complaint."""
        if self.circle is None:
            return True
        if complaint.operator_id in self.circle or complaint.owner_id in self.circle:
            return True
        return self.unowned and complaint.owner_id is None

    @property
    def manager(self) -> bool:
        """Whether the principal assigns and moves on any complaint they see."""
        return Scope.COMPLAINTS_MANAGE in self.principal.scopes

    def moves(self, complaint: Complaint) -> bool:
        """Whether the principal may change the complaint's status: managers, and the
        owner with complaints:write."""
        me = self.principal.user_id
        return self.manager or (me is not None and complaint.owner_id == me)

    def edits(self, complaint: Complaint) -> bool:
        """Whether the principal may correct the details: who may move it on, and who
        registered it while it is still only registered."""
        me = self.principal.user_id
        own = me is not None and complaint.operator_id == me and complaint.status == "registered"
        return self.moves(complaint) or own

    @property
    def in_clear(self) -> bool:
        """Whether applicants' names and numbers are shown unmasked."""
        return Scope.CALLS_READ_PII in self.principal.scopes


def viewer(db: Session, principal: Principal) -> Viewer:
    """The principal with their circle (as the questions register limits supervisors)."""
    own = {principal.user_id} if principal.user_id is not None else set()
    if principal.role == Role.OPERATOR:
        return Viewer(principal, frozenset(own), unowned=False)
    if principal.sees_only_group_calls:
        group = db.scalars(select(User.id).where(User.group == principal.group)).all()
        return Viewer(principal, frozenset({*group, *own}), unowned=True)
    return Viewer(principal, None, unowned=False)


def _clock(request: Request) -> Clock:
    return Clock.of(request.app.state.settings)


def present(request: Request, complaint: Complaint, who: Viewer) -> ComplaintOut:
    """The complaint as this viewer may see it, with its overdue and due-soon marks."""
    now = utcnow()
    soon_days = request.app.state.settings.complaint_due_soon_days
    undecided = complaint.status in ("registered", "in_work")
    out = ComplaintOut.model_validate(
        {
            **complaint_payload(complaint),
            "overdue": undecided and complaint.deadline_at <= now,
            "due_soon": undecided and now < complaint.deadline_at <= soon_until(now, soon_days),
        }
    )
    if who.in_clear:
        return out
    return out.model_copy(
        update={
            "applicant_name": mask_name(out.applicant_name),
            "applicant_phone": mask_phone(out.applicant_phone) if out.applicant_phone else "",
        }
    )


def _detail(request: Request, db: Session, complaint: Complaint, who: Viewer) -> ComplaintDetail:
    base = present(request, complaint, who)
    changes = [ChangeOut.model_validate(row) for row in history_payload(history(db, complaint.id))]
    return ComplaintDetail(**base.model_dump(), history=changes)


def _not_yours(detail: str) -> ServiceError:
    return ServiceError(403, detail, code="complaint_not_yours")


def _get(db: Session, who: Viewer, complaint_id: int) -> Complaint:
    complaint = db.get(Complaint, complaint_id)
    if complaint is None:
        raise HTTPException(404, f"no complaint with id {complaint_id}")
    if not who.sees(complaint):
        raise _not_yours(f"complaint {complaint_id} is not one you may see")
    return complaint


def _phone(raw: str) -> str:
    if not raw.strip():
        return ""
    return normalise_number(raw)  # a 422 OriginateError for anything but a number


def _check_owner(db: Session, who: Viewer, owner_id: int | None) -> None:
    """Refuse an owner the principal may not give the complaint to."""
    if not who.manager:
        raise ServiceError(
            403, "assigning a complaint needs complaints:manage", code="complaint_manage_scope"
        )
    if owner_id is None:
        return
    user = db.get(User, owner_id)
    if user is None or not user.active:
        raise ServiceError(
            422,
            f"no active user with id {owner_id} to give the complaint to",
            code="complaint_owner_unknown",
        )
    if who.circle is not None and owner_id not in who.circle:
        raise _not_yours("supervisors give complaints to their group only")


@router.get(
    "",
    response_model=ComplaintPage,
    summary="The register: undecided first by deadline; filters by status, owner, due, period",
    responses=_ERRORS,
)
def complaints_list(
    request: Request,
    db: Db,
    principal: Reader,
    status: Status | None = None,
    owner: Annotated[
        Literal["me"] | None, Query(description="me: only those the caller owns")
    ] = None,
    due: Annotated[
        Literal["overdue", "soon"] | None,
        Query(
            description="overdue: undecided past the deadline; soon: undecided, deadline "
            "within CALLAGENT_COMPLAINT_DUE_SOON_DAYS"
        ),
    ] = None,
    date_from: Annotated[
        Day | None, Query(alias="from", description="registered on or after this day (local)")
    ] = None,
    date_to: Annotated[
        Day | None, Query(alias="to", description="registered on or before this day (local)")
    ] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="text in subject, office or decision")
    ] = None,
    cause: Cause | None = None,
    office: Annotated[str | None, Query(max_length=255)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> ComplaintPage:
    who = viewer(db, principal)
    clock = _clock(request)
    now = utcnow()
    registered = None
    if date_from is not None or date_to is not None:
        _, _, since, until = picked_days(date_from, date_to, clock.zone, longest=MAX_DAYS)
        registered = (since, until)
    soon_days = request.app.state.settings.complaint_due_soon_days
    text = (q or "").strip() or None
    total, rows = list_complaints(
        db,
        ComplaintFilter(
            status=status,
            owner_id=(principal.user_id or 0) if owner == "me" else None,
            overdue_at=now if due == "overdue" else None,
            due_soon=(now, soon_until(now, soon_days)) if due == "soon" else None,
            registered=registered,
            text=text,
            cause=cause,
            office=office.strip() if office else None,
            circle=who.circle,
            unowned=who.unowned,
        ),
        limit=limit,
        offset=offset,
    )
    items = [present(request, row, who) for row in rows]
    # as GET /api/v1/questions: a listing with applicants in the clear is audited
    clear = sum(1 for row in rows if who.in_clear and (row.applicant_name or row.applicant_phone))
    if clear:
        filters = {"status": status, "owner": owner, "due": due, "q": bool(text)}
        audit(
            db,
            principal=principal,
            action="complaints.list",
            detail={k: str(v) for k, v in filters.items() if v},
            rows=clear,
        )
        db.commit()
    return ComplaintPage(total=total, limit=limit, offset=offset, items=items)


@router.get(
    "/causes",
    response_model=CausesOut,
    summary="The causes report: complaints by cause, office and day, week or month",
    responses=_ERRORS,
)
def complaints_causes(
    request: Request,
    db: Db,
    principal: Manager,
    date_from: Annotated[
        Day | None, Query(alias="from", description="first day (local; default today)")
    ] = None,
    date_to: Annotated[
        Day | None, Query(alias="to", description="last day (local; default the first)")
    ] = None,
    by: Literal["day", "week", "month"] = "month",
) -> CausesOut:
    who = viewer(db, principal)
    zone = _clock(request).zone
    first, last, since, until = picked_days(date_from, date_to, zone, longest=MAX_DAYS)
    rows = causes_report(
        db, start=since, end=until, zone=zone, period=by, circle=who.circle, unowned=who.unowned
    )
    return CausesOut(
        first_day=first, last_day=last, by=by, rows=[CauseRow.model_validate(r) for r in rows]
    )


@router.post(
    "",
    response_model=ComplaintDetail,
    status_code=201,
    summary="Register a complaint (its decision deadline by CALLAGENT_COMPLAINT_DEADLINE)",
    responses=_ERRORS,
)
def complaints_create(
    request: Request, body: ComplaintIn, db: Db, principal: Writer
) -> ComplaintDetail:
    call_key = None
    if body.call_id is not None:
        call = db.get(Call, body.call_id)
        if call is None:
            raise ServiceError(
                404, f"no call with id {body.call_id}", code="complaint_call_unknown"
            )
        call_key = f"{call.node}:{call.linkedid}"
    # a ComplaintError leaves uncommitted (the session rolls back) and answers its status
    complaint = register(
        db,
        clock=_clock(request),
        subject=body.subject,
        cause=body.cause,
        channel=body.channel,
        now=utcnow(),
        by_user_id=principal.user_id,
        applicant_name=body.applicant_name,
        applicant_phone=_phone(body.applicant_phone),
        office=body.office,
        cause_other=body.cause_other,
        call_id=body.call_id,
        call_key=call_key,
    )
    db.commit()
    return _detail(request, db, complaint, viewer(db, principal))


@router.get(
    "/{complaint_id}",
    response_model=ComplaintDetail,
    summary="One complaint with its history",
    responses=_ERRORS,
)
def complaints_get(
    request: Request, complaint_id: ComplaintId, db: Db, principal: Reader
) -> ComplaintDetail:
    who = viewer(db, principal)
    return _detail(request, db, _get(db, who, complaint_id), who)


@router.patch(
    "/{complaint_id}",
    response_model=ComplaintDetail,
    summary="Move on (take, decide, answer, close, reject, reopen), assign, or correct",
    responses=_ERRORS,
)
def complaints_patch(
    request: Request, complaint_id: ComplaintId, body: ComplaintPatch, db: Db, principal: Writer
) -> ComplaintDetail:
    who = viewer(db, principal)
    complaint = _get(db, who, complaint_id)
    now = utcnow()
    me = principal.user_id
    details: dict[str, Any] = {}
    for name in ("subject", "cause", "cause_other", "office", "channel", "applicant_name"):
        value = getattr(body, name)
        if value is not None:
            details[name] = value.strip()
    if body.applicant_phone is not None:
        details["applicant_phone"] = _phone(body.applicant_phone)
    if details and not who.edits(complaint):
        raise _not_yours(
            "the owner or a supervisor corrects a complaint (who registered it: until taken)"
        )
    moving = body.status is not None and body.status != complaint.status
    if moving and not who.moves(complaint):
        raise ServiceError(
            403,
            "moving a complaint on needs complaints:manage or owning it",
            code="complaint_manage_scope",
        )
    assigning = "owner_id" in body.model_fields_set
    if assigning:
        _check_owner(db, who, body.owner_id)
    # a ComplaintError leaves uncommitted (the session rolls back) and answers its status
    if details:
        edit_details(db, complaint=complaint, changes=details, now=now, by_user_id=me)
    if assigning and assign(
        db, complaint=complaint, owner_id=body.owner_id, now=now, by_user_id=me, note=body.note
    ):
        # who deals with an applicant's complaint is a supervisor's decision: audited
        audit(
            db,
            principal=principal,
            action="complaints.assign",
            detail={"complaint_id": complaint.id, "owner_id": body.owner_id},
            rows=1,
        )
    if moving and body.status is not None:
        change_status(
            db,
            complaint=complaint,
            to=body.status,
            now=now,
            by_user_id=me,
            note=body.note,
            decision=body.decision,
            answer=body.answer,
            answer_channel=body.answer_channel,
        )
    db.commit()
    return _detail(request, db, complaint, who)
