"""``/api/v1/callbacks``: website call-backs for supervisors (list, one, reassign, KPI).

``callbacks:read`` lists the tasks by status (waiting, due, calling, overdue, done,
failed) and reads the time from request to call-back; ``callbacks:manage`` gives a task
to another operator (a group's supervisor: within the group) or a new window end.
Applicants' names and numbers are masked without ``calls:read_pii``; a listing in the
clear is audited, as the other registers do.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from callagent.api.schemas import BodyId, Problem
from callagent.api.security import Db, Requires
from callagent.auth.masking import mask_name, mask_phone
from callagent.auth.scopes import Role, Scope
from callagent.auth.service import Principal, audit
from callagent.callbacks.models import CallbackRequest, CallbackTask
from callagent.callbacks.service import (
    Policy,
    TaskFilter,
    counts,
    in_team,
    kpi,
    list_tasks,
    payload,
    reassign,
    refresh_statuses,
    utcnow,
)
from callagent.db.models import User
from callagent.errors import ServiceError
from callagent.reports.periods import picked_days

router = APIRouter(prefix="/api/v1/callbacks", tags=["callbacks"])
Reader = Annotated[Principal, Depends(Requires(Scope.CALLBACKS_READ))]
Manager = Annotated[Principal, Depends(Requires(Scope.CALLBACKS_MANAGE))]
TaskId = Annotated[int, Path(ge=1, le=2_147_483_647, description="call-back task id")]
Status = Literal["waiting", "due", "calling", "overdue", "done", "failed"]
Day = Annotated[date, Field(ge=date(2000, 1, 1), le=date(2099, 12, 31))]
MAX_DAYS = 3660
_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": Problem},
    404: {"model": Problem},
    409: {"model": Problem},
    422: {"model": Problem},
}


class Attempt(BaseModel):
    at: str
    result: str = Field(description="answered, busy, no_answer, ..., reassigned")
    operator_id: int | None = None
    channel_id: str | None = None
    by_user_id: int | None = None


class CallbackOut(BaseModel):
    id: int
    request_id: int
    name: str
    phone: str
    topic: str
    window_from: datetime
    window_to: datetime
    requested_at: datetime
    status: Status
    due_at: datetime | None = Field(description="the next moment it may be dialled")
    attempts: int
    max_attempts: int
    operator_id: int | None = Field(description="the operator it is given to (null: anyone)")
    last_operator_id: int | None
    last_result: str
    last_call_at: datetime | None
    answered_at: datetime | None = Field(description="the applicant was put through")
    seconds_to_callback: float | None = Field(description="from the request to answered_at")
    call_key: str | None
    wrapup_id: int | None = Field(description="the operator's wrap-up that closed it")
    closed_at: datetime | None
    note: str
    history: list[Attempt]


class CallbackPage(BaseModel):
    total: int
    limit: int
    offset: int
    counts: dict[str, int] = Field(description="every task by status")
    items: list[CallbackOut]


class CallbackPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operator_id: BodyId | None = Field(
        default=None, description="give it to this operator; null: the first free one"
    )
    window_to: AwareDatetime | None = Field(
        default=None, description="a new end of the applicant's window (ISO 8601 with offset)"
    )
    note: str = Field(default="", max_length=2_000)


class KpiOut(BaseModel):
    first_day: date
    last_day: date
    requested: int = Field(description="requests made on these days")
    reached: int = Field(description="of them, the applicant was put through")
    failed: int
    overdue: int
    open: int
    mean_seconds: float | None = Field(description="request -> applicant put through")
    median_seconds: float | None
    p90_seconds: float | None


def masker(principal: Principal) -> Any:
    """None (in the clear) with calls:read_pii, else the masking of names and numbers."""
    if Scope.CALLS_READ_PII in principal.scopes:
        return None

    def mask(text: str) -> str:
        return mask_phone(text) if text.startswith("+") else mask_name(text)

    return mask


def present(task: CallbackTask, request: CallbackRequest, principal: Principal) -> CallbackOut:
    """The task as this principal may see it."""
    return CallbackOut.model_validate(payload(task, request, masker(principal)))


def team_of(db: Session, principal: Principal) -> tuple[int, ...] | None:
    """The operators whose call-backs a group's supervisor sees (None: everyone's)."""
    if not principal.sees_only_group_calls:
        return None
    return tuple(db.scalars(select(User.id).where(User.group == principal.group)).all())


def _ours(db: Session, principal: Principal, task: CallbackTask) -> None:
    """Refuse (403) a task outside a group's supervisor's team."""
    if not in_team(task, team_of(db, principal)):
        raise ServiceError(
            403,
            f"call-back {task.id} is another group's: supervisors see their group's",
            code="callback_not_your_group",
        )


def _policy(request: Request) -> Policy:
    policy: Policy = request.app.state.callback_policy
    return policy


@router.get(
    "",
    response_model=CallbackPage,
    summary="Call-backs by status: open ones by due time, then the newest",
    responses=_ERRORS,
)
def callbacks_list(
    db: Db,
    principal: Reader,
    status: Status | None = None,
    operator_id: Annotated[
        int | None, Query(ge=1, le=2_147_483_647, description="given to or last taken by")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> CallbackPage:
    refresh_statuses(db, utcnow())
    db.commit()
    team = team_of(db, principal)
    total, rows = list_tasks(
        db,
        TaskFilter(status=status, operator_id=operator_id, team=team),
        limit=limit,
        offset=offset,
    )
    items = [present(task, req, principal) for task, req in rows]
    if rows and Scope.CALLS_READ_PII in principal.scopes:
        audit(
            db,
            principal=principal,
            action="callbacks.list",
            detail={"status": status} if status else {},
            rows=len(rows),
        )
        db.commit()
    return CallbackPage(
        total=total, limit=limit, offset=offset, counts=counts(db, team), items=items
    )


@router.get(
    "/kpi",
    response_model=KpiOut,
    summary="Time from request to call-back for the requests of the chosen days",
    responses=_ERRORS,
)
def callbacks_kpi(
    request: Request,
    db: Db,
    principal: Reader,
    date_from: Annotated[
        Day | None, Query(alias="from", description="first day (local; default today)")
    ] = None,
    date_to: Annotated[
        Day | None, Query(alias="to", description="last day (local; default the first)")
    ] = None,
) -> KpiOut:
    zone = ZoneInfo(request.app.state.settings.timezone)
    first, last, since, until = picked_days(date_from, date_to, zone, longest=MAX_DAYS)
    figures = kpi(db, start=since, end=until, team=team_of(db, principal))
    return KpiOut(first_day=first, last_day=last, **figures.as_dict())


def _get(db: Db, task_id: int) -> tuple[CallbackTask, CallbackRequest]:
    task = db.get(CallbackTask, task_id)
    if task is None:
        raise HTTPException(404, f"no call-back with id {task_id}")
    req = db.get(CallbackRequest, task.request_id)
    assert req is not None
    return task, req


@router.get("/{task_id}", response_model=CallbackOut, summary="One call-back", responses=_ERRORS)
def callbacks_get(task_id: TaskId, db: Db, principal: Reader) -> CallbackOut:
    task, req = _get(db, task_id)
    _ours(db, principal, task)
    return present(task, req, principal)


@router.patch(
    "/{task_id}",
    response_model=CallbackOut,
    summary="Reassign: another operator (or anyone free), a new window end",
    responses=_ERRORS,
)
def callbacks_patch(
    request: Request, task_id: TaskId, body: CallbackPatch, db: Db, principal: Manager
) -> CallbackOut:
    task, req = _get(db, task_id)
    _ours(db, principal, task)
    operator_id = body.operator_id
    if operator_id is not None:
        user = db.get(User, operator_id)
        if user is None or not user.active or user.role != Role.OPERATOR.value:
            raise ServiceError(
                422,
                f"no active operator with id {operator_id} to give the call-back to",
                code="callback_operator_unknown",
            )
        if principal.sees_only_group_calls and user.group != principal.group:
            raise ServiceError(
                403,
                "supervisors give call-backs to their group's operators only",
                code="callback_not_your_group",
            )
    reassign(
        db,
        task=task,
        operator_id=operator_id,
        by_user_id=principal.user_id,
        note=body.note.strip(),
        window_to=body.window_to,
        policy=_policy(request),
        now=utcnow(),
    )
    audit(
        db,
        principal=principal,
        action="callbacks.reassign",
        detail={"task_id": task.id, "operator_id": operator_id},
        rows=1,
    )
    db.commit()
    return present(task, req, principal)
