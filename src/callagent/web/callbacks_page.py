"""The supervisor's call-back page (``/supervisor/callbacks``, HTML): the website's
call-backs by status with their counts, the time from request to call-back for the
chosen days, and, for ``callbacks:manage``, reassigning an open one (the page's script,
``static/callbacks.js``, sends ``PATCH /api/v1/callbacks/{id}``: the API's rules hold)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from callagent.api.callbacks import MAX_DAYS, Day, Status, present, team_of
from callagent.api.security import Db
from callagent.auth.scopes import Role, Scope
from callagent.auth.service import Principal, audit
from callagent.callbacks.models import TASK_STATUSES
from callagent.callbacks.service import (
    TaskFilter,
    counts,
    kpi,
    list_tasks,
    refresh_statuses,
    utcnow,
)
from callagent.db.models import User
from callagent.reports.periods import picked_days
from callagent.web.pages import PAGE_HEADERS, PageRequires, page_context, templates

router = APIRouter(tags=["pages"])
Reader = Annotated[Principal, Depends(PageRequires(Scope.CALLBACKS_READ))]
PAGE_ROWS = 200


def _duration(seconds: float | None) -> str:
    """``754.0`` -> ``12:34`` (hours when there are any); ``—`` for none."""
    if seconds is None:
        return "—"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%d.%m %H:%M") if moment is not None else "—"


@router.get(
    "/supervisor/callbacks",
    response_class=HTMLResponse,
    summary="Website call-backs (HTML): by status, the time to call back, reassign",
    responses={303: {"description": "a browser without a session: to the login page"}},
)
def callbacks_page(
    request: Request,
    db: Db,
    principal: Reader,
    status: Status | None = None,
    date_from: Annotated[Day | None, Query(alias="from")] = None,
    date_to: Annotated[Day | None, Query(alias="to")] = None,
    lang: Annotated[str | None, Query(description="page language: ru, uk or en")] = None,
) -> Response:
    settings = request.app.state.settings
    zone = ZoneInfo(settings.timezone)
    page = page_context(request, db, principal, lang, "/supervisor/callbacks")
    refresh_statuses(db, utcnow())
    db.commit()
    first, last, since, until = picked_days(date_from, date_to, zone, longest=MAX_DAYS)
    team = team_of(db, principal)  # a group's supervisor: their group's tasks
    figures = kpi(db, start=since, end=until, team=team)
    _, rows = list_tasks(db, TaskFilter(status=status, team=team), limit=PAGE_ROWS, offset=0)
    users = db.scalars(select(User).order_by(User.full_name, User.login)).all()
    names = {user.id: user.full_name or user.login for user in users}
    manage = Scope.CALLBACKS_MANAGE in principal.scopes
    operators = [
        {"id": user.id, "name": names[user.id]}
        for user in users
        if manage
        and user.active
        and user.role == Role.OPERATOR.value
        and (not principal.sees_only_group_calls or user.group == principal.group)
    ]
    items: list[dict[str, Any]] = []
    for task, req in rows:
        out = present(task, req, principal)
        items.append(
            {
                "id": out.id,
                "requested": _local(out.requested_at, zone),
                "name": out.name,
                "phone": out.phone,
                "topic": out.topic,
                "window": f"{_local(out.window_from, zone)} – {_local(out.window_to, zone)}",
                "status": out.status,
                "due": _local(out.due_at, zone),
                "attempts": f"{out.attempts}/{out.max_attempts}",
                "operator_id": out.operator_id,
                "operator": names.get(out.operator_id or out.last_operator_id or 0, "—"),
                "result": out.last_result,
                "time": _duration(out.seconds_to_callback),
                "open": out.status in ("waiting", "due", "overdue"),
            }
        )
    if rows and Scope.CALLS_READ_PII in principal.scopes:
        audit(
            db, principal=principal, action="callbacks.list", detail={"page": "1"}, rows=len(rows)
        )
        db.commit()
    words = page["t"]
    context: dict[str, Any] = {
        **page,
        "boot": {
            "csrf": principal.csrf_token or "",
            "lang": page["lang"],
            "i18n": {k: v for k, v in words.items() if k.startswith(("cbk_", "error_callback"))},
        },
        "status": status or "",
        "statuses": TASK_STATUSES,
        "counts": counts(db, team),
        "items": items,
        "manage": manage,
        "operators": operators,
        "kpi": {
            **figures.as_dict(),
            "mean": _duration(figures.mean_seconds),
            "median": _duration(figures.median_seconds),
            "p90": _duration(figures.p90_seconds),
        },
        "period": words["cbk_kpi_period"].format(first=first.isoformat(), last=last.isoformat()),
        "first": first.isoformat(),
        "last": last.isoformat(),
        "today": date.today().isoformat(),
        "timezone": settings.timezone,
    }
    return templates.TemplateResponse(request, "callbacks.html", context, headers=PAGE_HEADERS)
