"""The schedule's part of the planning page (``/supervisor/planning``): the week's grid
(one row per operator, one column per day), the coverage chart of a day (required
against staff on the phones per 15 minutes, SVG drawn on the server as the other
charts), that day's break plan with the form to edit a shift or a break, and the day's
adherence. The numbers of ``GET /api/v1/planning/schedule`` and ``/adherence`` (one
service); building, publishing and edits go through the API from ``schedule.js``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from callagent.config import Settings
from callagent.planning import schedule_service as service
from callagent.planning.rules import SLOTS_DAY
from callagent.reports.chart import Axes, Series, line_chart


def schedule_context(
    db: Session,
    settings: Settings,
    words: dict[str, str],
    *,
    week: date,
    day: int,
    team: str | None,
    writer: bool,
    lang: str,
    csrf: str,
    chart_team: str | None = None,
) -> dict[str, Any]:
    """What the template shows of the week of ``week`` and its day ``day``;
    ``chart_team``: the coverage chart of that team (a schedule built per team)."""
    data = service.view(db, settings, week, group=team)
    context: dict[str, Any] = {
        "week": week.isoformat(),
        "day": day,
        "date": (week + timedelta(days=day)).isoformat(),
        "writer": writer,
        "data": data,
        "lang": lang,
        "boot": {
            "week": week.isoformat(),
            "csrf": csrf,
            "words": {k: v for k, v in words.items() if k.startswith("sch_")},
        },
        "days": [
            {"index": k, "label": (week + timedelta(days=k)).strftime("%d.%m")} for k in range(7)
        ],
    }
    if data is None:
        return context
    figures = data["figures"]
    context["figures"] = words["sch_figures"].format(
        shifts=figures["shifts"],
        under=figures["under_agent_slots"],
        bound=figures["lower_bound_under"],
        over=figures["over_agent_slots"],
        status=words[f"sch_status_{data['status']}"],
    )
    first = day * SLOTS_DAY
    labels = [f"{(k * 15) // 60:02d}:{(k * 15) % 60:02d}" for k in range(SLOTS_DAY)]
    teams = {one["team"]: one for one in data["teams"]}
    # a team's supervisor sees their team's chart; others the whole centre's or a team's
    shown = team if team in teams else chart_team if chart_team in teams else None
    source = teams[shown] if shown is not None else data
    required = source["required"][first : first + SLOTS_DAY]
    working = source["working"][first : first + SLOTS_DAY]
    context["chart_team"] = shown
    context["teams"] = [
        {
            **one,
            "name": one["team"] or words["sch_team_none"],
            "share_text": f"{100 * one['share']:.0f} %"
            + (f" ({words['sch_share_' + one['share_source']]})" if one["share_source"] else ""),
        }
        for one in data["teams"]
    ]
    title = (
        words["sch_coverage_team"].format(team=shown or words["sch_team_none"])
        if shown is not None
        else words["sch_coverage"]
    )
    context["chart"] = (
        line_chart(
            labels,
            [
                Series(words["sch_required"], "#c0392b", [float(v) for v in required]),
                Series(words["sch_working"], "#1f5fbf", [float(v) for v in working]),
            ],
            title=title,
            axes=Axes(x=words["plan_interval_start"], y=words["plan_agents_axis"]),
            chart_id="chart-coverage",
        )
        if any(required) or any(working)
        else ""
    )
    context["grid"] = [
        {
            "login": operator["login"],
            "name": operator["name"],
            "hours": f"{operator['week_minutes'] / 60:g}",
            "cells": [
                next((s for s in operator["shifts"] if s["day"] == k), None)
                or ({"off": True} if k in operator["days_off"] else {})
                for k in range(7)
            ],
        }
        for operator in data["operators"]
    ]
    context["plan"] = [
        {"login": operator["login"], "shift": shift}
        for operator in data["operators"]
        for shift in operator["shifts"]
        if shift["day"] == day
    ]
    context["plan"].sort(key=lambda row: (row["shift"]["from"], row["login"]))
    moment = datetime.now(UTC)
    the_day = week + timedelta(days=day)
    zone = ZoneInfo(settings.timezone)
    if the_day <= moment.date() + timedelta(days=1):
        report = service.adherence_report(db, settings, day=the_day, now=moment, group=team)
        context["adherence"] = adherence_rows(words, report["rows"], zone)
    return context


def adherence_rows(
    words: dict[str, str], rows: list[dict[str, Any]], zone: ZoneInfo
) -> list[dict[str, Any]]:
    """Adherence rows of ``schedule_service.adherence_report`` as the tables show them."""
    return [
        {
            **row,
            "late_minutes": row["late_seconds"] // 60,
            "early_minutes": row["early_seconds"] // 60,
            "share": f"{100 * row['adherence']:.1f}",
            "notes": ", ".join(exception_text(words, one, zone) for one in row["exceptions"]),
        }
        for row in rows
    ]


def exception_text(words: dict[str, str], one: dict[str, Any], zone: ZoneInfo) -> str:
    """A pause off the plan: what, and from when to when on the centre's clock."""
    start = datetime.fromisoformat(one["start"]).astimezone(zone)
    end = start + timedelta(seconds=one["seconds"])
    return f"{words['sch_exc_' + one['kind']]} {start:%H:%M}–{end:%H:%M}"
