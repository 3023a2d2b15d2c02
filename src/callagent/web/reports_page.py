"""The supervisor's reports page (``/supervisor/reports``): a period's KPIs, a table per
group and a bar chart, all from the KPI engine (the API's numbers), drawn on the server."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from callagent.api.security import Db
from callagent.auth.scopes import Scope
from callagent.auth.service import Principal, group_endpoints
from callagent.reports.chart import Series, bar_chart
from callagent.reports.kpi import Kpi
from callagent.reports.service import kpi_report
from callagent.routing.states import PAUSE_REASONS
from callagent.web.pages import PAGE_HEADERS, PageRequires, page_context, templates

router = APIRouter(tags=["pages"])
Viewer = Annotated[Principal, Depends(PageRequires(Scope.REPORTS_READ))]
Grouping = Literal["interval", "day", "operator", "topic", "did"]
_LIVE_WORDS = ("live_", "state_", "reason_")  # what the wallboard's script says


def _label(key: str, by: str) -> str:
    """A group's key as the chart shows it: an interval as its local hh:mm."""
    if by == "interval":
        return datetime.fromisoformat(key).strftime("%H:%M")
    return key or "—"


@router.get(
    "/supervisor/reports",
    response_class=HTMLResponse,
    summary="The supervisor's reports page (HTML): KPIs of a period by group, with a chart",
    responses={303: {"description": "a browser without a session: to the login page"}},
)
def reports_page(
    request: Request,
    db: Db,
    principal: Viewer,
    day_from: Annotated[date | None, Query(alias="from", description="first day")] = None,
    day_to: Annotated[date | None, Query(alias="to", description="last day")] = None,
    by: Annotated[Grouping, Query(description="group by")] = "interval",
    interval: Annotated[Literal["15", "30", "60"], Query(description="minutes")] = "60",
    lang: Annotated[str | None, Query(description="page language: ru, uk or en")] = None,
) -> Response:
    settings = request.app.state.settings
    zone = ZoneInfo(settings.timezone)
    page = page_context(request, db, principal, lang, "/supervisor/reports")
    words, language = page["t"], page["lang"]
    today = datetime.now(zone).date()
    first, last = day_from or today, day_to or day_from or today
    if last < first:
        first, last = last, first
    since = datetime.combine(first, time(), tzinfo=zone)
    until = datetime.combine(last + timedelta(days=1), time(), tzinfo=zone)
    endpoints = (
        group_endpoints(db, group=principal.group) if principal.sees_only_group_calls else None
    )
    kpi = kpi_report(
        db,
        settings,
        since=since,
        until=until,
        by=by,
        interval_minutes=int(interval),
        endpoints=endpoints,
    )
    chart = bar_chart(
        [_label(g.key or "", by) for g in kpi.groups],
        [
            Series(words["rep_offered"], "#6b7a90", [g.offered for g in kpi.groups]),
            Series(words["rep_answered"], "#1b7f3a", [g.answered for g in kpi.groups]),
            Series(words["rep_abandoned"], "#b00020", [g.abandoned for g in kpi.groups]),
        ],
        title=words["rep_chart"],
    )
    context: dict[str, Any] = {
        **page,
        "csrf": principal.csrf_token or "",
        "first": first.isoformat(),
        "last": last.isoformat(),
        "by": by,
        "interval": interval,
        "timezone": settings.timezone,
        "kpi": kpi,
        "rows": [*kpi.groups, _total(kpi)],
        "chart": chart,
        "threshold": settings.sl_threshold_seconds,
        "export_query": urlencode(
            {
                "since": since.isoformat(),
                "until": until.isoformat(),
                "by": by,
                "interval": interval,
                "lang": language,
            }
        ),
    }
    return templates.TemplateResponse(request, "reports.html", context, headers=PAGE_HEADERS)


def _total(kpi: Kpi) -> Kpi:
    total = Kpi(**{k: v for k, v in kpi.__dict__.items() if k not in ("groups", "key")})
    total.key = ""
    return total


@router.get(
    "/supervisor/live",
    response_class=HTMLResponse,
    summary="The supervisor's live wallboard (HTML): operators, waiting calls, today's KPIs",
    responses={303: {"description": "a browser without a session: to the login page"}},
)
def live_page(
    request: Request,
    db: Db,
    principal: Viewer,
    tv: Annotated[bool, Query(description="wallboard mode: large type for a TV")] = False,
    lang: Annotated[str | None, Query(description="page language: ru, uk or en")] = None,
) -> Response:
    settings = request.app.state.settings
    page = page_context(request, db, principal, lang, "/supervisor/live")
    words, language = page["t"], page["lang"]
    context: dict[str, Any] = {
        **page,
        "csrf": principal.csrf_token or "",
        "tv": tv,
        "boot": {
            "csrf": principal.csrf_token or "",
            "lang": language,
            "i18n": {
                k: v for k, v in words.items() if k.startswith(("live_", "state_", "reason_"))
            },
            "threshold": settings.sl_threshold_seconds,
            "levels": {  # where a tile turns amber, red
                "sl": [settings.wallboard_sl_amber, settings.wallboard_sl_red],
                "waiting": [settings.wallboard_waiting_amber, settings.wallboard_waiting_red],
                "wait": [
                    settings.wallboard_wait_amber_seconds,
                    settings.wallboard_wait_red_seconds,
                ],
                "abandon": [settings.wallboard_abandon_amber, settings.wallboard_abandon_red],
            },
            "pause_reasons": [r for r in PAUSE_REASONS if r != "no_answer"],
            "can_act": Scope.OPERATORS_STATE in principal.scopes,
        },
    }
    return templates.TemplateResponse(request, "live.html", context, headers=PAGE_HEADERS)
