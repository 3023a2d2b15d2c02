"""``/api/v1/reports``: the KPI engine's figures (the same code path as the CLI)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime

from callagent.api.schemas import Id, Problem
from callagent.api.security import Db, Requires
from callagent.auth.scopes import Role, Scope
from callagent.auth.service import Principal, audit, group_endpoints
from callagent.db.models import User
from callagent.reports import activity, operator_time
from callagent.reports.export import report_sheet
from callagent.reports.kpi import MODULE_DOC, Kpi
from callagent.reports.live import live_view
from callagent.reports.operator_figures import PERIODS, operator_figures
from callagent.reports.periods import days_in, local_midnight
from callagent.reports.service import hourly_profile, kpi_report, timeline
from callagent.spreadsheets import MEDIA_TYPES, to_csv, to_xlsx
from callagent.web.i18n import strings

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])
# every formula, from the modules that define them
KPI_DOC = "\n\n".join(
    [MODULE_DOC, *((m.__doc__ or "").split("\n\n", 1)[-1] for m in (operator_time, activity))]
)
ReportReader = Annotated[Principal, Depends(Requires(Scope.REPORTS_READ))]


@dataclass(frozen=True)
class KpiQuery:
    """A KPI report's period and grouping, from the query string."""

    since: Annotated[AwareDatetime, Query(description="from, inclusive (with a zone)")]
    until: Annotated[AwareDatetime, Query(description="to, exclusive (with a zone)")]
    by: Annotated[
        Literal["interval", "day", "week", "month", "operator", "topic", "did", "campaign"] | None,
        Query(description="group by; times in CALLAGENT_TIMEZONE (weeks from Monday)"),
    ] = None
    interval: Annotated[int, Query(description="minutes, with by=interval: 15, 30 or 60")] = 30


def _team(db: Db, principal: Principal) -> tuple[tuple[str, ...] | None, str | None]:
    """A supervisor with a group sees their operators' calls (and the unanswered ones)
    and their operators' time; others see everyone: (endpoints, group)."""
    if not principal.sees_only_group_calls:
        return None, None
    return group_endpoints(db, group=principal.group), principal.group


def _report(request: Request, db: Db, principal: Principal, query: KpiQuery) -> Kpi:
    endpoints, group = _team(db, principal)
    try:
        return kpi_report(
            db,
            request.app.state.settings,
            since=query.since,
            until=query.until,
            by=query.by,
            interval_minutes=query.interval,
            endpoints=endpoints,
            group=group,
        )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


@router.get(
    "/kpi",
    summary="KPIs of the inbound calls offered in a period, in total and per group",
    description=KPI_DOC,
    responses={403: {"model": Problem}, 422: {"model": Problem}},
)
def reports_kpi(
    request: Request, db: Db, principal: ReportReader, query: Annotated[KpiQuery, Depends()]
) -> dict[str, object]:
    return _report(request, db, principal, query).to_json()


@router.get(
    "/profile",
    summary="The intraday profile: offered calls per hour of the day, averaged over the days",
    description="Offered inbound calls per hour of the day (0-23) on the centre's clock "
    "(CALLAGENT_TIMEZONE), summed over the period and divided by its number of calendar "
    "days. A supervisor with a group: their team's calls and the unanswered ones.",
    responses={403: {"model": Problem}, 422: {"model": Problem}},
)
def reports_profile(
    request: Request, db: Db, principal: ReportReader, query: Annotated[KpiQuery, Depends()]
) -> dict[str, object]:
    endpoints, _ = _team(db, principal)
    settings = request.app.state.settings
    try:
        hours = hourly_profile(
            db, settings, since=query.since, until=query.until, endpoints=endpoints
        )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    zone = ZoneInfo(settings.timezone)
    return {"days": days_in(query.since, query.until, zone), "hours": hours}


@router.get(
    "/timeline",
    summary="One day's state timeline: each operator's states, from their state history",
    description="Each operator's spans of state (ready, ringing, on_call, wrap_up, paused "
    "with its reason, unavailable, offline) over the day on the centre's clock (up to now "
    "for today); operators offline all day are left out. A supervisor with a group: "
    "their team.",
    responses={403: {"model": Problem}},
)
def reports_timeline(
    request: Request,
    db: Db,
    principal: ReportReader,
    day: Annotated[date, Query(description="the day, on the centre's clock")],
) -> dict[str, object]:
    _, group = _team(db, principal)
    zone = ZoneInfo(request.app.state.settings.timezone)
    since, until = local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone)
    return {
        "day": day.isoformat(),
        "since": since.isoformat(),
        "until": until.isoformat(),
        "operators": [
            {
                "login": login,
                "spans": [
                    {
                        "state": span.state,
                        "reason": span.reason,
                        "start": span.start.isoformat(),
                        "end": span.end.isoformat(),
                    }
                    for span in spans
                ],
            }
            for login, spans in timeline(db, since=since, until=until, group=group).items()
        ],
    }


FiguresReader = Annotated[Principal, Depends(Requires(Scope.OPERATORS_STATE))]


@router.get(
    "/operators/{user_id}/figures",
    summary="An operator's own figures for today and this week",
    description=(
        "Calls handled (answered by the operator's phones), talk, hold, after-call work "
        "and AHT (the KPI engine's formulas), wrap-ups submitted and missed, and wrap-ups "
        "by category; today and this week (from Monday) on the centre's clock "
        "(CALLAGENT_TIMEZONE). Operators: their own; supervisors with a group: their team."
    ),
    responses={403: {"model": Problem}, 404: {"model": Problem}},
)
def reports_operator_figures(
    user_id: Id, request: Request, db: Db, principal: FiguresReader
) -> dict[str, object]:
    user = db.get(User, user_id)
    if user is None:
        raise HTTPException(404, f"no user with id {user_id}")
    if principal.role == Role.OPERATOR and principal.user_id != user_id:
        raise HTTPException(403, "operators see only their own figures")
    if principal.sees_only_group_calls and user.group != principal.group:
        raise HTTPException(403, f"{user.login} is not in your group {principal.group!r}")
    settings = request.app.state.settings
    now = datetime.now(UTC)
    return {
        period: operator_figures(db, settings, user=user, period=period, now=now).to_json()
        for period in PERIODS
    }


@router.get(
    "/live",
    summary="The centre now: operators by state, calls waiting, today's and this interval's KPIs",
    description=(
        "Read from the database, so every callagent process on one PostgreSQL shows the "
        "same centre. Applicants' numbers are masked without calls:read_pii. A supervisor "
        "with a group sees their team."
    ),
    responses={403: {"model": Problem}},
)
def reports_live(request: Request, db: Db, principal: ReportReader) -> dict[str, object]:
    team = principal.group if principal.sees_only_group_calls else None
    return live_view(
        db,
        request.app.state.settings,
        now=datetime.now(UTC),
        group=team,
        endpoints=group_endpoints(db, group=team) if team else None,
        pii=Scope.CALLS_READ_PII in principal.scopes,
    )


@router.get(
    "/kpi/export",
    summary="The KPI report as CSV or XLSX (audited)",
    description="The same figures as /api/v1/reports/kpi, one row per group and the total; "
    "headers in `lang`; cells are never formulas. Every export is written to the audit log.",
    response_class=Response,
    responses={403: {"model": Problem}, 422: {"model": Problem}},
)
def reports_kpi_export(
    request: Request,
    db: Db,
    principal: ReportReader,
    query: Annotated[KpiQuery, Depends()],
    fmt: Annotated[Literal["csv", "xlsx"], Query(alias="format")] = "xlsx",
    lang: Annotated[Literal["ru", "uk", "en"], Query(description="headers' language")] = "ru",
) -> Response:
    kpi = _report(request, db, principal, query)
    since, until, by = query.since, query.until, query.by
    sheet = report_sheet(kpi, by=by, words=strings(lang), lang=lang)
    data = to_csv([sheet]) if fmt == "csv" else to_xlsx([sheet])
    audit(
        db,
        principal=principal,
        action="reports.kpi_export",
        detail={"since": since.isoformat(), "until": until.isoformat(), "by": by, "format": fmt},
        rows=len(kpi.groups),
    )
    db.commit()
    name = f"kpi_{since:%Y%m%d}_{until:%Y%m%d}.{fmt}"
    return Response(
        data,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
