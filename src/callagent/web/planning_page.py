"""The supervisor's planning page (``/supervisor/planning``): the calls' forecast with
its backtest accuracy, and the agents and scheduled staff each interval needs by Erlang
C and Erlang A; the numbers of ``GET /api/v1/planning/staffing`` (one service), drawn
on the server as SVG: the page needs no script."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from callagent.api.security import Db
from callagent.auth.scopes import Scope
from callagent.auth.service import Principal, group_endpoints
from callagent.planning.forecast import NotEnoughHistory
from callagent.planning.schedule_service import monday
from callagent.planning.service import MAX_DAYS, staffing_report
from callagent.planning.simulation_service import attach_simulated
from callagent.reports.chart import Axes, Series, bar_chart, line_chart
from callagent.web.pages import PAGE_HEADERS, PageRequires, page_context, templates
from callagent.web.schedule_section import schedule_context

router = APIRouter(tags=["pages"])
Planner = Annotated[Principal, Depends(PageRequires(Scope.REPORTS_READ))]
PAGE_DAYS = 14  # the page's longest forecast: 14 × 96 quarter hours still read as a chart


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


@router.get(
    "/supervisor/planning",
    response_class=HTMLResponse,
    summary="The supervisor's planning page (HTML): forecast, accuracy, staff per interval",
    responses={303: {"description": "a browser without a session: to the login page"}},
)
def planning_page(
    request: Request,
    db: Db,
    principal: Planner,
    start: Annotated[date | None, Query(description="first day (default today)")] = None,
    days: Annotated[int, Query(ge=1, le=min(PAGE_DAYS, MAX_DAYS))] = 7,
    interval: Annotated[Literal["15", "30", "60"] | None, Query(description="minutes")] = None,
    lang: Annotated[str | None, Query(description="page language: ru, uk or en")] = None,
    week: Annotated[date | None, Query(description="the schedule's week (its Monday)")] = None,
    day: Annotated[int, Query(ge=0, le=6, description="the schedule's day shown (0 Monday)")] = 0,
    team: Annotated[
        str | None,
        Query(max_length=64, description="the coverage chart of this team (built per team)"),
    ] = None,
) -> Response:
    settings = request.app.state.settings
    zone = ZoneInfo(settings.timezone)
    page = page_context(request, db, principal, lang, "/supervisor/planning")
    words = page["t"]
    first = start or datetime.now(zone).date()
    minutes = int(interval) if interval else settings.planning_interval_minutes
    chart_team = team
    team = principal.group if principal.sees_only_group_calls else None
    context: dict[str, Any] = {
        **page,
        "csrf": principal.csrf_token or "",
        "start": first.isoformat(),
        "days": days,
        "page_days": PAGE_DAYS,
        "interval": str(minutes),
        "timezone": settings.timezone,
        "error": "",
        "data": None,
    }
    try:
        report = staffing_report(
            db,
            settings,
            start=first,
            days=days,
            interval_minutes=minutes,
            endpoints=group_endpoints(db, group=team) if team else None,
        )
    except NotEnoughHistory:
        context["error"] = words["plan_no_history"]
    except ValueError:
        context["error"] = words["plan_bad_start"]
    else:
        data = report.to_json()
        attach_simulated(db, data, team=team)  # the simulated SL beside Erlang's
        context["data"] = data
        context["summary"] = _summary(words, data)
        context["charts"] = _charts(words, data, several_days=days > 1)
        context["rows"] = [
            {**one, "label": _label(one["start"], days > 1)}
            for one in data["intervals"]
            if one["offered"] > 0
        ]
    context["simulation"] = {
        "writer": Scope.SCHEDULES_WRITE in principal.scopes,
        "interval": minutes,
        "words": {k: v for k, v in words.items() if k.startswith("sim_")}
        | {"error_simulation_running": words["error_simulation_running"]},
    }
    context["schedule"] = schedule_context(
        db,
        settings,
        words,
        week=monday(week or first),
        day=day,
        team=team,
        writer=Scope.SCHEDULES_WRITE in principal.scopes,
        lang=page["lang"],
        csrf=principal.csrf_token or "",
        chart_team=chart_team,
    )
    return templates.TemplateResponse(request, "planning.html", context, headers=PAGE_HEADERS)


def _label(start: str, several_days: bool) -> str:
    moment = datetime.fromisoformat(start)
    return moment.strftime("%d.%m %H:%M" if several_days else "%H:%M")


def _summary(words: dict[str, str], data: dict[str, Any]) -> dict[str, str]:
    """The page's sentences: the target, the patience, the history, the accuracy."""
    target = data["target"]
    parts = []
    if target["service_level"] is not None:
        parts.append(
            words["plan_target_sl"].format(
                sl=f"{100 * target['service_level']:g}",
                threshold=f"{target['threshold_seconds']:g}",
            )
        )
    if target["asa_seconds"] is not None:
        parts.append(words["plan_target_asa"].format(asa=f"{target['asa_seconds']:g}"))
    patience = data["patience_seconds"]
    if patience is None:
        patience_text = words["plan_patience_none"]
    else:
        key = "plan_patience" if data["patience_measured"] else "plan_patience_set"
        patience_text = words[key].format(seconds=f"{patience:.0f}")
    accuracy = data["accuracy"]
    if accuracy and accuracy["weeks"]:
        accuracy_text = words["plan_accuracy"].format(
            weeks=accuracy["weeks"],
            day=_percent(accuracy["wmape_day"]),
            interval=_percent(accuracy["wmape_interval"]),
        )
    else:
        accuracy_text = words["plan_accuracy_none"]
    history = data["history"]
    return {
        "note": words["plan_note"].format(
            zone=data["zone"],
            target=", ".join(parts) or words["plan_target_none"],
            occupancy=f"{100 * target['max_occupancy']:g}",
            shrinkage=f"{100 * data['shrinkage']['total']:g}",
        ),
        "patience": patience_text,
        "accuracy": accuracy_text,
        "history": words["plan_history"].format(
            first=history["first"], last=history["last"], calls=history["calls"]
        ),
    }


def _charts(words: dict[str, str], data: dict[str, Any], *, several_days: bool) -> dict[str, str]:
    """The forecast and the staff per interval, as SVG; '' when no call is expected."""
    intervals = data["intervals"]
    if not any(one["offered"] for one in intervals):
        return {"forecast": "", "staff": ""}
    labels = [_label(one["start"], several_days) for one in intervals]
    return {
        "forecast": bar_chart(
            labels,
            [Series(words["plan_offered"], "#6b7a90", [one["offered"] for one in intervals])],
            title=words["plan_chart_forecast"],
            axes=Axes(x=words["plan_interval_start"], y=words["chart_calls"]),
            chart_id="chart-forecast",
        ),
        "staff": line_chart(
            labels,
            [
                Series(
                    words["plan_staff_c"],
                    "#1f5fbf",
                    [one["erlang_c"]["staff"] for one in intervals],
                ),
                Series(
                    words["plan_agents_c"],
                    "#1b7f3a",
                    [one["erlang_c"]["agents"] for one in intervals],
                ),
                Series(
                    words["plan_agents_a"],
                    "#e07b39",
                    [one["erlang_a"]["agents"] for one in intervals],
                ),
            ],
            title=words["plan_chart_staff"],
            axes=Axes(x=words["plan_interval_start"], y=words["plan_agents_axis"]),
            chart_id="chart-staff",
        ),
    }
