"""The calibration page (``/quality/calibration``, HTML): several evaluators score the same
call, and the page shows how far their answers spread, per criterion and per call, for the
calls of the chosen days (``quality.reports.calibration``: what ``GET
/api/v1/quality/report`` gives as ``calibration``). A form gives a call to several
evaluators through ``POST /api/v1/quality/calibrations`` (``static/calibration.js``), so
the API's rules (who may see which call) hold on the page."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from callagent.api.security import Db
from callagent.auth.scopes import Scope
from callagent.auth.service import Principal
from callagent.quality.reports import calibration, load_rows
from callagent.quality.scorecard import Scorecard
from callagent.quality.service import circle_of
from callagent.reports.periods import picked_days
from callagent.web.pages import PAGE_HEADERS, PageRequires, page_context, templates
from callagent.web.quality_page import evaluators
from callagent.web.reports_sections import percent

router = APIRouter(tags=["pages"])
Evaluator = Annotated[Principal, Depends(PageRequires(Scope.QUALITY_EVALUATE))]
LONGEST = 366  # days the page reads at once
_SCRIPT_WORDS = ("qc_", "error_")


@router.get(
    "/quality/calibration",
    response_class=HTMLResponse,
    summary="Calibration (HTML): give a call to several evaluators; the spread of their "
    "answers per criterion and per call",
    responses={303: {"description": "a browser without a session: to the login page"}},
)
def calibration_page(
    request: Request,
    db: Db,
    principal: Evaluator,
    day_from: Annotated[date | None, Query(alias="from", description="first day")] = None,
    day_to: Annotated[date | None, Query(alias="to", description="last day")] = None,
    lang: Annotated[str | None, Query(description="page language: ru, uk or en")] = None,
) -> Response:
    settings = request.app.state.settings
    zone = ZoneInfo(settings.timezone)
    page = page_context(request, db, principal, lang, "/quality")
    words, language = page["t"], page["lang"]
    if day_from is None and day_to is None:  # a calibration round takes weeks: the last 30 days
        day_to = picked_days(None, None, zone, longest=1)[1]
        day_from = date.fromordinal(day_to.toordinal() - 29)
    first, last, since, until = picked_days(day_from, day_to, zone, longest=LONGEST)
    card: Scorecard = request.app.state.quality_scorecard
    spread = calibration(load_rows(db, circle=circle_of(db, principal), since=since, until=until))
    context: dict[str, Any] = {
        **page,
        "boot": {
            "csrf": principal.csrf_token or "",
            "lang": language,
            "i18n": {k: v for k, v in words.items() if k.startswith(_SCRIPT_WORDS)},
        },
        "first": first.isoformat(),
        "last": last.isoformat(),
        "evaluators": evaluators(db),
        "criteria": [
            {
                "item_id": row["item_id"],
                "title": card.title_of(row["item_id"], language),
                "calls": row["calls"],
                "mean": percent(row["mean_spread"], language).removesuffix(" %"),
                "max": percent(row["max_spread"], language).removesuffix(" %"),
            }
            for row in spread["criteria"]
        ],
        "calls": [
            {
                "call_id": row["call_id"],
                "evaluators": row["evaluators"],
                "scores": " · ".join(percent(score, language) for score in row["scores"]),
                "spread": percent(row["spread"], language).removesuffix(" %"),
            }
            for row in spread["calls"]
        ],
    }
    return templates.TemplateResponse(
        request, "quality_calibration.html", context, headers=PAGE_HEADERS
    )
