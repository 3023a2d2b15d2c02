"""``/api/v1/planning/schedule`` and ``/api/v1/planning/adherence``: the week's shifts
and breaks built by the solver, edited by hand, breaks re-planned during the day, the
XLSX export and adherence (the same code path as ``callagent plan schedule``)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from callagent.api.schemas import Problem
from callagent.api.security import Db, Requires
from callagent.auth.scopes import Role, Scope
from callagent.auth.service import Principal, audit
from callagent.db.models import User
from callagent.errors import ServiceError
from callagent.planning import adherence_period as adherence_period_module
from callagent.planning import models as db
from callagent.planning import pause_check as pause_check_module
from callagent.planning import schedule as schedule_module
from callagent.planning import schedule_service as service
from callagent.planning.forecast import NotEnoughHistory
from callagent.planning.pause_check import pause_flags
from callagent.planning.rules import SLOTS_WEEK
from callagent.planning.schedule_export import schedule_sheet
from callagent.spreadsheets import MEDIA_TYPES, to_xlsx
from callagent.web.i18n import strings

router = APIRouter(prefix="/api/v1/planning", tags=["planning"])
Reader = Annotated[Principal, Depends(Requires(Scope.REPORTS_READ))]
Writer = Annotated[Principal, Depends(Requires(Scope.SCHEDULES_WRITE))]
SCHEDULE_DOC = (schedule_module.__doc__ or "").split("\n\n", 1)[-1]
Week = Annotated[date, Query(description="the week's Monday, on the centre's clock")]
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _team(principal: Principal) -> str | None:
    return principal.group if principal.sees_only_group_calls else None


class BuildIn(BaseModel):
    """What to build: the week, and optionally the staff per slot (else the staffing)."""

    week_start: date = Field(description="a Monday")
    required: list[Annotated[int, Field(ge=0, le=100_000)]] | None = Field(
        default=None,
        min_length=SLOTS_WEEK,
        max_length=SLOTS_WEEK,
        description="staff needed per 15-minute slot of the week (672 numbers); default: "
        "the forecast's Erlang C staffing with the shrinkage other than breaks",
    )
    required_by_team: (
        dict[
            Annotated[str, Field(max_length=64)],
            Annotated[
                list[Annotated[int, Field(ge=0, le=100_000)]],
                Field(min_length=SLOTS_WEEK, max_length=SLOTS_WEEK),
            ],
        ]
        | None
    ) = Field(
        default=None,
        max_length=100,
        description="each team's staff per slot (teams: the operators' groups; 672 "
        "numbers each); default: the forecast's Erlang C staffing per team for its share "
        "of the calls (CALLAGENT_PLANNING_TEAM_SHARES, else measured), or `required` "
        "split by those shares",
    )
    seconds: float = Field(default=40.0, ge=1, le=300, description="the solver's time budget")


class TimesIn(BaseModel):
    """New times of a shift or a break (ISO; without a zone: the centre's clock)."""

    start: datetime
    end: datetime


class PublishIn(BaseModel):
    week_start: date
    published: bool = True


class ReplanIn(BaseModel):
    """Re-plan the breaks of ``at``'s day not begun by ``at``, for ``factor`` × the
    forecast volume from then on; ``apply``: store them (the supervisor confirmed)."""

    at: datetime
    factor: float = Field(default=1.0, ge=0, le=10)
    apply: bool = False


def _aware(request: Request, moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=ZoneInfo(request.app.state.settings.timezone))
    return moment


def _view(request: Request, db_session: Db, principal: Principal, week: date) -> dict[str, Any]:
    data = service.view(db_session, request.app.state.settings, week, group=_team(principal))
    if data is None:
        raise HTTPException(404, f"no schedule built for the week of {week}")
    return data


@router.get(
    "/schedule",
    summary="The week's schedule: shifts and breaks per operator, required and working "
    "staff per 15-minute slot, coverage figures and any rule broken",
    responses={403: {"model": Problem}, 404: {"model": Problem}, 422: {"model": Problem}},
)
def schedule_read(
    request: Request, db_session: Db, principal: Reader, week: Week
) -> dict[str, Any]:
    return _view(request, db_session, principal, week)


@router.post(
    "/schedule/build",
    summary="Builds (or rebuilds, dropping hand edits) the week's shifts and breaks",
    description=SCHEDULE_DOC,
    responses={403: {"model": Problem}, 422: {"model": Problem}},
)
def schedule_build(
    request: Request, db_session: Db, principal: Writer, body: BuildIn
) -> dict[str, Any]:
    try:
        service.build(
            db_session,
            request.app.state.settings,
            week_start=body.week_start,
            actor=principal.actor,
            required=body.required,
            required_by_team=body.required_by_team,
            seconds=body.seconds,
        )
    except NotEnoughHistory as exc:
        raise HTTPException(422, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    db_session.commit()
    return _view(request, db_session, principal, body.week_start)


@router.post(
    "/schedule/publish",
    summary="Publishes a week (operators then see their shifts) or takes it back",
    responses={403: {"model": Problem}, 404: {"model": Problem}},
)
def schedule_publish(
    request: Request, db_session: Db, principal: Writer, body: PublishIn
) -> dict[str, Any]:
    try:
        service.publish(db_session, body.week_start, published=body.published)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    db_session.commit()
    return {"week_start": body.week_start.isoformat(), "published": body.published}


def _refusal(exc: service.RuleBroken) -> ServiceError:
    """422 naming the rules (codes for the page to say in its language)."""
    rules = sorted({one["rule"] for one in exc.found})
    return ServiceError(422, str(exc), code="labour_rule", params={"rules": ",".join(rules)})


def _mine(db_session: Db, principal: Principal, user_id: int) -> None:
    """A team's supervisor edits their team's shifts only."""
    team = _team(principal)
    if team is not None:
        user = db_session.get(User, user_id)
        if user is None or user.group != team:
            raise HTTPException(404, "no such shift in your team")


@router.patch(
    "/schedule/shifts/{shift_id}",
    summary="Moves or resizes a shift by hand (its breaks placed again); refused with "
    "422 when a labour rule would be broken",
    responses={403: {"model": Problem}, 404: {"model": Problem}, 422: {"model": Problem}},
)
def schedule_edit_shift(
    request: Request, db_session: Db, principal: Writer, shift_id: Id, body: TimesIn
) -> dict[str, Any]:
    shift = db_session.get(db.ScheduleShift, shift_id)
    if shift is None:
        raise HTTPException(404, f"no shift {shift_id}")
    _mine(db_session, principal, shift.user_id)
    week = shift.schedule.week_start
    try:
        service.edit_shift(
            db_session,
            request.app.state.settings,
            shift_id,
            start=_aware(request, body.start),
            end=_aware(request, body.end),
        )
    except service.RuleBroken as exc:
        db_session.rollback()
        raise _refusal(exc) from None
    except (ValueError, LookupError) as exc:
        db_session.rollback()
        raise HTTPException(422, str(exc)) from None
    db_session.commit()
    return _view(request, db_session, principal, week)


@router.patch(
    "/schedule/breaks/{break_id}",
    summary="Moves or resizes a break or lunch by hand; refused with 422 when a labour "
    "rule would be broken",
    responses={403: {"model": Problem}, 404: {"model": Problem}, 422: {"model": Problem}},
)
def schedule_edit_break(
    request: Request, db_session: Db, principal: Writer, break_id: Id, body: TimesIn
) -> dict[str, Any]:
    one = db_session.get(db.ScheduleBreak, break_id)
    if one is None:
        raise HTTPException(404, f"no break {break_id}")
    _mine(db_session, principal, one.shift.user_id)
    week = one.shift.schedule.week_start
    try:
        service.edit_break(
            db_session,
            request.app.state.settings,
            break_id,
            start=_aware(request, body.start),
            end=_aware(request, body.end),
        )
    except service.RuleBroken as exc:
        db_session.rollback()
        raise _refusal(exc) from None
    except (ValueError, LookupError) as exc:
        db_session.rollback()
        raise HTTPException(422, str(exc)) from None
    db_session.commit()
    return _view(request, db_session, principal, week)


@router.post(
    "/schedule/replan",
    summary="Re-plans today's breaks not begun yet for a new volume: proposed, or "
    "stored with apply=true",
    responses={403: {"model": Problem}, 404: {"model": Problem}, 422: {"model": Problem}},
)
def schedule_replan(
    request: Request, db_session: Db, principal: Writer, body: ReplanIn
) -> dict[str, Any]:
    try:
        answer = service.replan(
            db_session,
            request.app.state.settings,
            at=_aware(request, body.at),
            factor=body.factor,
            apply=body.apply,
        )
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    if body.apply:
        db_session.commit()
    else:
        db_session.rollback()
    return answer


@router.get(
    "/schedule/export",
    summary="The week's schedule as XLSX, one row per operator, one column per day (audited)",
    response_class=Response,
    responses={403: {"model": Problem}, 404: {"model": Problem}},
)
def schedule_export(
    request: Request,
    db_session: Db,
    principal: Reader,
    week: Week,
    lang: Annotated[Literal["ru", "uk", "en"], Query(description="headers' language")] = "ru",
) -> Response:
    data = _view(request, db_session, principal, week)
    body = to_xlsx([schedule_sheet(data, strings(lang), lang)])
    audit(
        db_session,
        principal=principal,
        action="planning.schedule_export",
        detail={"week": week.isoformat(), "format": "xlsx"},
        rows=len(data["operators"]),
    )
    db_session.commit()
    return Response(
        body,
        media_type=MEDIA_TYPES["xlsx"],
        headers={"Content-Disposition": f'attachment; filename="schedule_{week:%Y%m%d}.xlsx"'},
    )


@router.get(
    "/adherence",
    summary="Each scheduled operator's adherence on a day: late log-in, early log-out, "
    "pauses off the planned breaks, the share of time in the planned state",
    responses={403: {"model": Problem}, 422: {"model": Problem}},
)
def planning_adherence(
    request: Request,
    db_session: Db,
    principal: Reader,
    day: Annotated[date, Query(description="the day, on the centre's clock")],
) -> dict[str, Any]:
    return service.adherence_report(
        db_session,
        request.app.state.settings,
        day=day,
        now=datetime.now(UTC),
        group=_team(principal),
    )


@router.get(
    "/pauses",
    summary="The operators paused now, each checked against their published shift's break "
    "plan: `check` null (the plan's), `unplanned` or `over` (by `over_seconds`)",
    description=(pause_check_module.__doc__ or "").split("\n\n", 1)[-1],
    responses={403: {"model": Problem}},
)
def planning_pauses(request: Request, db_session: Db, principal: Reader) -> dict[str, Any]:
    team = _team(principal)
    query = select(User).where(
        User.role == Role.OPERATOR.value, User.active.is_(True), User.state == "paused"
    )
    if team is not None:
        query = query.where(User.group == team)
    users = list(db_session.scalars(query.order_by(User.login)))
    now = datetime.now(UTC)
    flags = pause_flags(db_session, users, now)
    return {
        "at": now.isoformat(),
        "flagged": len(flags),
        "operators": [
            {
                "id": user.id,
                "login": user.login,
                "full_name": user.full_name,
                "group": user.group,
                "reason": user.state_reason,
                "since": user.state_since.isoformat() if user.state_since else None,
                "check": flags[user.id].to_json() if user.id in flags else None,
            }
            for user in users
        ],
    }


@router.get(
    "/adherence/period",
    summary="Schedule adherence over a period per operator: shifts, absences, late "
    "log-ins, early log-outs, minutes off the plan, the share in the planned state",
    description=(adherence_period_module.__doc__ or "").split("\n\n", 1)[-1],
    responses={403: {"model": Problem}, 422: {"model": Problem}},
)
def planning_adherence_period(
    request: Request,
    db_session: Db,
    principal: Reader,
    first: Annotated[date, Query(alias="from", description="the first day, centre's clock")],
    last: Annotated[date, Query(alias="to", description="the last day (included)")],
) -> dict[str, Any]:
    try:
        return adherence_period_module.adherence_period(
            db_session,
            request.app.state.settings,
            first=first,
            last=last,
            now=datetime.now(UTC),
            group=_team(principal),
        )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
