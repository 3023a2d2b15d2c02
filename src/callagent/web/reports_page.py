"""The supervisor's reports page (``/supervisor/reports``): a period's KPIs, tables per
group and charts (volumes, service level per interval, AHT by operator, pauses by reason,
the intraday profile, a day's state timeline), all from the report service (the API's
numbers: for the whole centre, read with the interval aggregates as the API reads them),
drawn on the server as SVG: the page needs no script."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from callagent.api.security import Db
from callagent.auth.scopes import Scope
from callagent.auth.service import Principal, group_endpoints
from callagent.reports.chart import Axes, Series, bar_chart, hbar_chart, line_chart
from callagent.reports.kpi import Kpi
from callagent.reports.periods import local_midnight, picked_days
from callagent.reports.service import (
    MAX_INTERVAL_DAYS,
    MAX_PERIOD_DAYS,
    aggregates_ready,
    hourly_profile,
    kpi_report,
    load_inputs,
    profile,
    timeline,
)
from callagent.reports.timeline_chart import timeline_chart
from callagent.routing.states import PAUSE_REASONS
from callagent.web.adherence_section import adherence_section
from callagent.web.pages import PAGE_HEADERS, PageRequires, page_context, templates
from callagent.web.reports_sections import Period, callbacks_section, quality_section

router = APIRouter(tags=["pages"])
Viewer = Annotated[Principal, Depends(PageRequires(Scope.REPORTS_READ))]
Grouping = Literal["interval", "day", "week", "month", "operator", "topic", "did", "campaign"]
GROUPINGS = ("interval", "day", "week", "month", "operator", "topic", "did", "campaign")
_LIVE_WORDS = ("live_", "state_", "reason_")  # what the wallboard's script says


def group_names(keys: list[str], by: str, several_days: bool = False) -> list[str]:
    """The groups' keys as the page shows them: an interval as its local hh:mm (with the
    day when the period has several, and the UTC offset when a DST day repeats an hour)."""
    if by != "interval":
        return [key or "—" for key in keys]
    starts = [datetime.fromisoformat(key) for key in keys]
    plain = [start.strftime("%d.%m %H:%M" if several_days else "%H:%M") for start in starts]
    repeated = {name for name in plain if plain.count(name) > 1}
    return [
        f"{name} ({start.strftime('%z')[:3]})" if name in repeated else name
        for name, start in zip(plain, starts, strict=True)
    ]


def hours_minutes(seconds: float) -> str:
    """Seconds as h:mm (the tables' time logged in and paused)."""
    minutes = round(seconds / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


@router.get(
    "/supervisor/reports",
    response_class=HTMLResponse,
    summary="The supervisor's reports page (HTML): KPIs of a period by group, with charts",
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
    day: Annotated[date | None, Query(description="the state timeline's day")] = None,
    lang: Annotated[str | None, Query(description="page language: ru, uk or en")] = None,
) -> Response:
    settings = request.app.state.settings
    zone = ZoneInfo(settings.timezone)
    page = page_context(request, db, principal, lang, "/supervisor/reports")
    words, language = page["t"], page["lang"]
    # more days than the API allows: the page shortens the period
    first, last, since, until = picked_days(day_from, day_to, zone, longest=MAX_PERIOD_DAYS)
    # intervals over more than a year are no report: by day, and no SL-per-interval line
    per_intervals = (until - since).days <= MAX_INTERVAL_DAYS
    if by == "interval" and not per_intervals:
        by = "day"
    team = principal.group if principal.sees_only_group_calls else None
    endpoints = group_endpoints(db, group=team) if team else None
    # the whole centre: each report as the API reads it (the interval aggregates where
    # clean); a team, or no clean aggregates: one load of the facts for every grouping
    whole = team is None and aggregates_ready(db, settings)
    inputs = (
        None
        if whole
        else load_inputs(db, since=since, until=until, endpoints=endpoints, group=team)
    )

    def report(grouping: str | None) -> Kpi:
        return kpi_report(
            db,
            settings,
            since=since,
            until=until,
            by=grouping,
            interval_minutes=int(interval),
            inputs=inputs,
        )

    kpi = report(by)
    shown = day or last
    day_start, day_end = local_midnight(shown, zone), local_midnight(shown + timedelta(1), zone)
    states = timeline(db, since=day_start, until=day_end, group=team)
    context: dict[str, Any] = {
        **page,
        "csrf": principal.csrf_token or "",
        "first": first.isoformat(),
        "last": last.isoformat(),
        "day": shown.isoformat(),
        "by": by,
        "groupings": GROUPINGS,
        "interval": interval,
        "timezone": settings.timezone,
        "kpi": kpi,
        "rows": [*kpi.groups, _total(kpi)],
        "names": dict(
            zip(
                [g.key for g in kpi.groups],
                group_names([g.key or "" for g in kpi.groups], by, last > first),
                strict=True,
            )
        ),
        "hm": hours_minutes,
        "charts": _charts(
            words,
            kpi=kpi,
            by=by,
            per_interval=kpi if by == "interval" else report("interval" if per_intervals else None),
            per_operator=kpi if by == "operator" else report("operator"),
            hours=profile(inputs, settings)
            if inputs is not None
            else hourly_profile(db, settings, since=since, until=until),
            several_days=last > first,
        )
        | {
            "timeline": timeline_chart(
                states,
                start=day_start,
                end=day_end,
                zone=zone,
                title=words["chart_timeline"].format(day=shown.strftime("%d.%m.%Y")),
                x_label=words["chart_hour"],
                words=words,
                chart_id="chart-timeline",
            )
            if states
            else ""
        },
        "categories": _categories(request, kpi, language),
        "threshold": settings.sl_threshold_seconds,
        # the other domains' parts (issue #13), each only with its scope
        "quality": quality_section(
            db,
            principal,
            card=request.app.state.quality_scorecard,
            words=words,
            language=language,
            period=Period(first, last, since, until, zone),
        ),
        "callbacks": callbacks_section(
            db, principal, period=Period(first, last, since, until, zone)
        ),
        # the timeline day's schedule adherence (issue #14): states against the plan
        # and the period's per operator
        "adherence": adherence_section(
            db, settings, words, day=shown, team=team, first=first, last=last
        ),
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


def _charts(
    words: dict[str, str],
    *,
    kpi: Kpi,
    by: str,
    per_interval: Kpi,
    per_operator: Kpi,
    hours: list[float],
    several_days: bool,
) -> dict[str, str]:
    """Every chart but the timeline, as SVG; '' for a chart with nothing to show."""
    charts: dict[str, str] = {}
    groups = kpi.groups
    charts["volume"] = (
        bar_chart(
            group_names([g.key or "" for g in groups], by, several_days),
            [
                Series(words["rep_offered"], "#6b7a90", [g.offered for g in groups]),
                Series(words["rep_answered"], "#1b7f3a", [g.answered for g in groups]),
                Series(words["rep_abandoned"], "#b00020", [g.abandoned for g in groups]),
            ],
            title=words["rep_chart"],
            axes=Axes(x=words[f"rep_by_{by}"], y=words["chart_calls"]),
            chart_id="chart-volume",
        )
        if any(g.offered for g in groups)
        else ""
    )
    with_calls = [g for g in per_interval.groups if g.offered]  # SL has no meaning without
    charts["sl"] = (
        line_chart(
            group_names([g.key or "" for g in with_calls], "interval", several_days),
            [
                Series(words["rep_sl"], "#1f5fbf", [g.service_level for g in with_calls]),
                Series(words["chart_sl2"], "#e07b39", [g.service_level_2 for g in with_calls]),
            ],
            title=words["chart_sl"],
            axes=Axes(x=words["chart_interval_start"], y=words["chart_share"]),
            percent=True,
            chart_id="chart-sl",
        )
        if with_calls
        else ""
    )
    handled = [g for g in per_operator.groups if g.answered]
    charts["aht"] = (
        hbar_chart(
            [g.key or "—" for g in handled],
            Series(words["chart_aht_seconds"], "#1b7f3a", [g.aht_seconds for g in handled]),
            title=words["chart_aht"],
            axes=Axes(x=words["chart_seconds"], y=words["rep_by_operator"]),
            chart_id="chart-aht",
        )
        if handled
        else ""
    )
    pauses = sorted(kpi.time.pauses.items())
    charts["pauses"] = (
        bar_chart(
            [words.get(f"reason_{reason}", reason) for reason, _ in pauses],
            [
                Series(
                    words["chart_pause_minutes"],
                    "#e07b39",
                    [round(p["seconds"] / 60, 1) for _, p in pauses],
                )
            ],
            title=words["chart_pauses"],
            axes=Axes(x=words["rep_reason"], y=words["chart_minutes"]),
            height=300,
            chart_id="chart-pauses",
        )
        if pauses
        else ""
    )
    charts["profile"] = (
        bar_chart(
            [f"{hour:02d}" for hour in range(24)],
            [Series(words["chart_offered_avg"], "#6b7a90", hours)],
            title=words["chart_profile"],
            axes=Axes(x=words["chart_hour"], y=words["chart_calls"]),
            height=300,
            chart_id="chart-profile",
        )
        if any(hours)
        else ""
    )
    return charts


def _categories(
    request: Request, kpi: Kpi, language: str
) -> list[tuple[str, str, int, list[tuple[str, int]]]]:
    """The period's submitted wrap-ups per category, with their titles in the page's
    language (from the forms file), and each category's services (consultations by
    topic): (id, title, count, [(service's label, count)])."""
    forms = request.app.state.wrapup_forms
    found = []
    for category_id, count in sorted(kpi.activity.wrapup_categories.items()):
        category = forms.category(category_id)
        field = category.field("service") if category else None
        labels = {o.value: o.label.get(language, o.value) for o in field.options} if field else {}
        services = sorted(
            (
                (labels.get(value, value), n)
                for value, n in kpi.activity.wrapup_services.get(category_id, {}).items()
            ),
            key=lambda item: (-item[1], item[0]),
        )
        title = category.title.get(language, category_id) if category else "—"
        found.append((category_id, title, count, services))
    return found


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
