"""``/api/v1/planning``: the calls' forecast and the staff each interval needs (the
same code path as ``callagent plan``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from callagent.api.schemas import Problem
from callagent.api.security import Db, Requires
from callagent.auth.scopes import Scope
from callagent.auth.service import Principal, group_endpoints
from callagent.planning import erlang
from callagent.planning import forecast as forecast_module
from callagent.planning.forecast import Adjustment
from callagent.planning.options import parse_adjustment
from callagent.planning.service import MAX_DAYS, forecast_report, staffing_report, target_of
from callagent.planning.simulation_service import attach_simulated

router = APIRouter(prefix="/api/v1/planning", tags=["planning"])
# the forecast's aggregates are the reports' figures: the reports' scope and team rule
Planner = Annotated[Principal, Depends(Requires(Scope.REPORTS_READ))]


def _doc(module: object) -> str:
    return (getattr(module, "__doc__", None) or "").split("\n\n", 1)[-1]


FORECAST_DOC = _doc(forecast_module)
ERLANG_DOC = _doc(erlang)


@dataclass(frozen=True)
class PlanQuery:
    """The forecast's days, interval and manual adjustments, from the query string."""

    start: Annotated[
        date | None, Query(description="first day, on the centre's clock (default today)")
    ] = None
    days: Annotated[int, Query(ge=1, le=MAX_DAYS, description="days to forecast")] = 7
    interval: Annotated[
        int | None,
        Query(description="minutes: 15, 30 or 60 (default CALLAGENT_PLANNING_INTERVAL_MINUTES)"),
    ] = None
    adjust: Annotated[
        list[str] | None,
        Query(
            max_length=100,
            description="manual adjustments, each START/END[,FACTOR[,ADD]]: the intervals "
            "starting in [START, END) (ISO, the centre's clock without a zone) times FACTOR "
            "plus ADD calls, e.g. 2026-12-07T10:00/2026-12-07T12:00,1.2,15",
        ),
    ] = None


def _endpoints(db: Db, principal: Principal) -> tuple[str, ...] | None:
    """A supervisor with a group plans for their team's calls (as the reports count
    them: their phones' calls and the unanswered ones); others for the whole centre."""
    if not principal.sees_only_group_calls:
        return None
    return group_endpoints(db, group=principal.group)


def _inputs(request: Request, query: PlanQuery) -> tuple[date, list[Adjustment]]:
    zone = ZoneInfo(request.app.state.settings.timezone)
    try:
        adjustments = [parse_adjustment(text, zone) for text in query.adjust or []]
    except ValueError as exc:
        raise HTTPException(422, f"adjust: {exc}") from None
    return query.start or datetime.now(zone).date(), adjustments


@router.get(
    "/forecast",
    summary="Offered calls and AHT per interval for the coming days, with the method's "
    "accuracy on the last weeks held out",
    description=FORECAST_DOC,
    responses={403: {"model": Problem}, 422: {"model": Problem}},
)
def planning_forecast(
    request: Request, db: Db, principal: Planner, query: Annotated[PlanQuery, Depends()]
) -> dict[str, object]:
    start, adjustments = _inputs(request, query)
    try:
        report = forecast_report(
            db,
            request.app.state.settings,
            start=start,
            days=query.days,
            interval_minutes=query.interval,
            adjustments=adjustments,
            endpoints=_endpoints(db, principal),
        )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return report.to_json()


@router.get(
    "/staffing",
    summary="Agents and scheduled staff per forecast interval, by Erlang C and Erlang A",
    description=ERLANG_DOC,
    responses={403: {"model": Problem}, 422: {"model": Problem}},
)
def planning_staffing(
    request: Request,
    db: Db,
    principal: Planner,
    query: Annotated[PlanQuery, Depends()],
    service_level: Annotated[
        float | None,
        Query(ge=0, lt=1, description="target share answered in time (0: none)"),
    ] = None,
    threshold: Annotated[
        float | None, Query(ge=0, le=600, description="answered in time: within seconds")
    ] = None,
    asa: Annotated[float | None, Query(ge=0, le=3600, description="mean wait target, s")] = None,
    max_occupancy: Annotated[float | None, Query(ge=0.05, le=1)] = None,
    patience: Annotated[
        float | None,
        Query(ge=1, le=86400, description="callers' mean patience, s (default: measured)"),
    ] = None,
) -> dict[str, object]:
    settings = request.app.state.settings
    start, adjustments = _inputs(request, query)
    try:
        target = target_of(
            settings,
            service_level=service_level,
            threshold=threshold,
            asa=asa,
            max_occupancy=max_occupancy,
        )
        report = staffing_report(
            db,
            settings,
            start=start,
            days=query.days,
            interval_minutes=query.interval,
            target=target,
            patience=patience,
            adjustments=adjustments,
            endpoints=_endpoints(db, principal),
        )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    data = report.to_json()
    # each interval's latest check by simulation (POST /api/v1/planning/simulations)
    team = principal.group if principal.sees_only_group_calls else None
    attach_simulated(db, data, team=team)
    return data
