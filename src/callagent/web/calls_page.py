"""The call list (``/calls``) and one call's page (``/calls/{id}``), for every role.

Server-rendered over the same reads as ``GET /api/v1/calls``: operators see their own
calls, a supervisor with a group the group's, the others all; numbers and names are
masked without ``calls:read_pii`` exactly as the API masks them, and a search by
number needs that scope, is rate-limited and audited as the API's is. The filters are a
plain GET form, so a filtered list is a link that can be shared or bookmarked.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Annotated
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from callagent.api.calls import may_see_call, present, visible_calls
from callagent.api.pii_search import allow_phone_search, audit_phone_search
from callagent.api.recordings import may_listen
from callagent.api.schemas import CallDetail, CallSummary, Id
from callagent.api.security import Db
from callagent.api.wrapups import present as present_wrapup
from callagent.auth.scopes import Role, Scope
from callagent.auth.service import Principal, audit
from callagent.config import Settings
from callagent.db.models import Call, User
from callagent.db.queries import TOPIC_VARIABLE, CallFilter, call_topics, get_call, list_calls
from callagent.db.wrapup_models import Wrapup
from callagent.quality.service import given_calls
from callagent.recordings.files import RecordingError, locate
from callagent.reports.periods import picked_days
from callagent.web.calls_view import (
    People,
    WrapupView,
    local,
    number_of,
    seconds,
    timeline,
    wrapup_views,
)
from callagent.web.pages import (
    PAGE_HEADERS,
    PageForbidden,
    PageRequires,
    page_context,
    templates,
)
from callagent.web.phones import display_phone
from callagent.wrapup.access import calls_wrapups, may_touch
from callagent.wrapup.forms import Forms
from callagent.wrapup.service import histories, open_status, resolve_calls

router = APIRouter(tags=["pages"])
Reader = Annotated[Principal, Depends(PageRequires(Scope.CALLS_READ))]
PAGE_SIZE = 50
DIRECTIONS = ("inbound", "outbound", "internal")
DISPOSITIONS = (
    "answered",
    "abandoned",
    "no_answer",
    "busy",
    "rejected",
    "congestion",
    "failed",
    "in_progress",
)
Text = Annotated[str | None, Query(max_length=64)]
# the list's filters a call's page keeps for its link back to the list
LIST_PARAMS = (
    "from",
    "to",
    "operator",
    "number",
    "direction",
    "disposition",
    "topic",
    "category",
    "page",
)


def _choice(value: str | None, allowed: Sequence[str]) -> str | None:
    """A drop-down's value, or None for "all" (a GET form sends empty fields too)."""
    return value if value in allowed else None


def _operators(db: Session, principal: Principal) -> list[tuple[int, str, tuple[str, ...]]]:
    """(id, name, phones) of the operators the principal may pick in the filter."""
    if Scope.OPERATORS_READ not in principal.scopes:
        return []
    query = select(User).where(User.role == Role.OPERATOR.value).order_by(User.full_name)
    if principal.sees_only_group_calls:
        query = query.where(User.group == principal.group)
    return [
        (user.id, user.full_name or user.login, tuple(user.endpoints or []))
        for user in db.scalars(query)
    ]


def _wrapup_label(
    wrapups: list[Wrapup], forms: Forms, words: dict[str, str], lang: str, now: datetime
) -> str:
    """A call's wrap-ups in one cell: categories, or missed / waiting."""
    labels: list[str] = []
    for wrapup in wrapups:
        status = open_status(wrapup, now)
        category = forms.category(wrapup.category or "") if status == "submitted" else None
        if category is not None:
            labels.append(category.title[lang])
        elif status == "submitted":
            labels.append(wrapup.category or words["calls_wrapup_none"])
        else:
            labels.append(words[f"calls_wrapup_{status}"])
    return ", ".join(dict.fromkeys(labels)) or words["calls_wrapup_none"]


@router.get(
    "/calls",
    response_class=HTMLResponse,
    summary="The call list (HTML): filters, 50 calls a page, each with its wrap-up",
    responses={303: {"description": "a browser without a session: to the login page"}},
)
def calls_page(
    request: Request,
    db: Db,
    principal: Reader,
    day_from: Annotated[date | None, Query(alias="from", description="first day")] = None,
    day_to: Annotated[date | None, Query(alias="to", description="last day")] = None,
    operator: Annotated[str | None, Query(max_length=12, description="operator id")] = None,
    number: Annotated[str | None, Query(max_length=32, description="applicant's number")] = None,
    direction: Text = None,
    disposition: Text = None,
    topic: Text = None,
    category: Text = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    lang: Annotated[str | None, Query(description="page language: ru, uk or en")] = None,
) -> Response:
    settings = request.app.state.settings
    forms: Forms = request.app.state.wrapups.forms
    zone = ZoneInfo(settings.timezone)
    context = page_context(request, db, principal, lang, "/calls")
    words, language = context["t"], context["lang"]
    first, last, since, until = picked_days(day_from, day_to, zone)
    operators = _operators(db, principal)
    chosen = next((o for o in operators if str(o[0]) == (operator or "").strip()), None)
    digits = "".join(ch for ch in number or "" if ch.isdigit())
    direction = _choice(direction, DIRECTIONS)
    disposition = _choice(disposition, DISPOSITIONS)
    category = _choice(category, [c.id for c in forms.categories])
    topic = (topic or "").strip() or None
    refused = ""
    if digits:  # a match would tell a masked number: PII scope, limited, audited
        try:
            allow_phone_search(request, principal)
        except HTTPException as exc:
            if exc.status_code != 429:
                raise
            refused = words["error_status_429"]  # the page, with the limit in its language
    only, unanswered = visible_calls(db, principal)
    given = given_calls(principal)  # a QA evaluator: the calls given to them
    base = CallFilter(
        since,
        until,
        only_endpoints=only,
        include_unanswered=unanswered,
        operators=None,
        call_ids=given,
    )
    topics = call_topics(db, base)
    where = CallFilter(
        since,
        until,
        phone=digits or None,
        direction=direction,
        disposition=disposition,
        only_endpoints=only,
        include_unanswered=unanswered,
        topic=topic,
        category=category,
        operators=chosen[2] if chosen else None,
        call_ids=given,
    )
    total, rows = (
        (0, [])
        if refused
        else list_calls(db, where, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    )
    detail = {"since": since, "until": until, "operator": chosen[1] if chosen else None}
    if digits and not refused:
        audit_phone_search(
            db, principal, action="calls.list", number=digits, rows=len(rows), total=total, **detail
        )
    elif Scope.CALLS_READ_PII in principal.scopes and rows:  # as the API: who saw numbers
        audit(
            db,
            principal=principal,
            action="calls.list",
            detail={k: str(v) for k, v in detail.items() if v},
            rows=len(rows),
        )
        db.commit()
    people = People.load(db)
    found = calls_wrapups(db, rows) if Scope.WRAPUPS_READ in principal.scopes else {}
    now = datetime.now(UTC)
    region = settings.phone_region
    table = []
    for row in rows:
        call = present(CallSummary.model_validate(row), principal)
        theirs = [w for w in found.get(row.id, []) if may_touch(db, principal, w.operator_id)]
        table.append(
            {
                "id": row.id,
                "started": local(row.started_at, zone),
                "direction": words.get(f"direction_{row.direction}", row.direction),
                "number": number_of(call, region),
                "operator": people.of(row.operator_endpoint) or words["calls_no_operator"],
                "wait": seconds(row.wait_seconds),
                "talk": seconds(row.talk_seconds),
                "disposition": row.disposition,
                "disposition_label": words.get(f"disposition_{row.disposition}", row.disposition),
                "topic": str((row.variables or {}).get(TOPIC_VARIABLE, "")),
                "wrapup": _wrapup_label(theirs, forms, words, language, now)
                if Scope.WRAPUPS_READ in principal.scopes
                else "",
            }
        )
    filters = {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "operator": str(chosen[0]) if chosen else "",
        "number": number or "" if digits else "",
        "direction": direction or "",
        "disposition": disposition or "",
        "topic": topic or "",
        "category": category or "",
    }
    kept = {k: v for k, v in filters.items() if v}
    pages = max(1, math.ceil(total / PAGE_SIZE))
    values = {
        **context,
        "filters": filters,
        "back": urlencode({**kept, **({"page": page} if page > 1 else {})}),
        "prev_query": urlencode({**kept, "page": page - 1}) if page > 1 else "",
        "next_query": urlencode({**kept, "page": page + 1}) if page < pages else "",
        "page": page,
        "pages": pages,
        "total": total,
        "rows": table,
        "operators": [(o[0], o[1]) for o in operators],
        "topics": sorted({*topics, *([topic] if topic else [])}),
        "categories": [(c.id, c.title[language]) for c in forms.categories],
        "directions": DIRECTIONS,
        "dispositions": DISPOSITIONS,
        "can_search": Scope.CALLS_READ_PII in principal.scopes,
        "refused": refused,
        "shows_wrapups": Scope.WRAPUPS_READ in principal.scopes,
        "own": principal.sees_only_own_calls,
        "timezone": settings.timezone,
    }
    return templates.TemplateResponse(request, "calls.html", values, headers=PAGE_HEADERS)


@router.get(
    "/calls/{call_id}",
    response_class=HTMLResponse,
    summary="One call (HTML): its timeline, operators rung and its wrap-up with corrections",
    responses={
        303: {"description": "a browser without a session: to the login page"},
        403: {"description": "not one of the calls this user may see"},
        404: {"description": "no such call"},
    },
)
def call_page(
    call_id: Id,
    request: Request,
    db: Db,
    principal: Reader,
    back: Annotated[str | None, Query(max_length=600, description="the list's filters")] = None,
    lang: Annotated[str | None, Query(description="page language: ru, uk or en")] = None,
) -> Response:
    row = get_call(db, call_id)
    if row is None:
        raise HTTPException(404, f"no call with id {call_id}")
    if not may_see_call(db, principal, row):
        if "text/html" in request.headers.get("accept", ""):
            raise PageForbidden(principal)  # the 403 page, in the user's language
        raise HTTPException(403, f"call {call_id} is not one of the calls you may see")
    settings = request.app.state.settings
    forms: Forms = request.app.state.wrapups.forms
    zone = ZoneInfo(settings.timezone)
    region = settings.phone_region
    context = page_context(request, db, principal, lang, "/calls")
    words, language = context["t"], context["lang"]
    call = present(CallDetail.model_validate(row), principal)
    people = People.load(db)
    users = {user.id: user.full_name or user.login for user in db.scalars(select(User))}
    views: list[WrapupView] = []
    if Scope.WRAPUPS_READ in principal.scopes:
        found = [
            w for w in calls_wrapups(db, [row])[row.id] if may_touch(db, principal, w.operator_id)
        ]
        resolve_calls(db, found)
        changes = histories(db, [w.id for w in found])
        shown = [present_wrapup(db, w, principal, forms, changes[w.id]) for w in found]
        db.commit()
        views = wrapup_views(shown, forms, users, words, language, zone, region)
    attempts = [
        {
            "operator": people.of(a.endpoint),
            "from": local(a.rang_from, zone, False),
            "to": local(a.rang_to, zone, False),
            "outcome": words.get(f"calls_outcome_{a.outcome or 'ringing'}", a.outcome or ""),
        }
        for a in sorted(call.attempts, key=lambda a: a.seq)
    ]
    back_query = urlencode(
        [(k, v) for k, v in parse_qsl(back or "") if k in LIST_PARAMS and v][: len(LIST_PARAMS)]
    )
    player = _player(db, principal, row, settings, words)
    values = {
        **context,
        "call": call,
        "number": number_of(call, region),
        "did": display_phone(call.dialled_number, region),
        "operator": people.of(call.operator_endpoint) or words["calls_no_operator"],
        "started": local(call.started_at, zone),
        "answered": local(call.answered_at, zone),
        "ended": local(call.ended_at, zone),
        "wait": seconds(call.wait_seconds),
        "talk": seconds(call.talk_seconds),
        "hold": seconds(call.hold_seconds),
        "direction": words.get(f"direction_{call.direction}", call.direction),
        "disposition": words.get(f"disposition_{call.disposition}", call.disposition),
        "hangup_by": words.get(f"calls_hangup_{call.hangup_by}", call.hangup_by or ""),
        "topic": str(call.variables.get(TOPIC_VARIABLE, "")),
        "lines": timeline(call, people, words, zone, region),
        "attempts": attempts,
        "wrapups": views,
        "shows_wrapups": Scope.WRAPUPS_READ in principal.scopes,
        "back": f"/calls?{back_query}" if back_query else "/calls",
        "timezone": settings.timezone,
        "masked": Scope.CALLS_READ_PII not in principal.scopes,
        "player": player,
    }
    return templates.TemplateResponse(request, "calls_call.html", values, headers=PAGE_HEADERS)


def _player(
    db: Session, principal: Principal, call: Call, settings: Settings, words: dict[str, str]
) -> dict[str, str] | None:
    """The recording's player for those who may listen: its address, or why it cannot play
    (the file gone, outside the folder) in the page's words; None: no player."""
    if not may_listen(db, principal, call, settings):
        return None
    try:
        locate(
            call.recording_file,
            folder=settings.recordings_dir,
            pbx_dir=settings.recordings_pbx_dir,
        )
    except RecordingError as exc:
        return {"url": "", "error": words.get(f"error_{exc.code}", exc.detail)}
    return {"url": f"/api/v1/calls/{call.id}/recording", "error": ""}
