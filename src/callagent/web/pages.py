"""The operators' HTML pages: the login page and the operator's workplace.

Server-rendered with Jinja2; the page's script (``static/operator.js``, no build
step) talks to the JSON API with the session cookie and the CSRF token rendered
into the page, and follows ``/api/v1/live/events``. A browser asking for a page
without a valid session is sent to the login page (:class:`PageRequires`); API
clients still get 401.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field

from callagent.api.schemas import Problem
from callagent.api.security import (
    Db,
    Requires,
    bearer_scheme,
    cookie_scheme,
    current_principal,
)
from callagent.auth.masking import mask_name, mask_phone
from callagent.auth.scopes import Scope
from callagent.auth.service import Principal, now
from callagent.db.models import User
from callagent.routing.states import PAUSE_REASONS
from callagent.web.i18n import (
    LANGUAGE_LABELS,
    LANGUAGE_NAMES,
    LANGUAGES,
    Language,
    language_of,
    strings,
)
from callagent.web.live import LiveHub
from callagent.web.navigation import PAGE_PREFIXES, nav_for
from callagent.web.phones import MAX_LENGTH, display_phone

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(tags=["pages"])

LANGUAGE_COOKIE = "callagent_lang"  # the login page's language, before anyone logs in
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
_PAGE_REASONS = [r for r in PAUSE_REASONS if r != "no_answer"]  # no_answer is the PBX's


def _safe_next(value: str | None) -> str:
    """Where to go after logging in: one of our pages, never another site; by default the
    role's home."""
    if value and value.startswith(PAGE_PREFIXES) and "//" not in value and "\\" not in value:
        return value
    return "/home"


def home_of(scopes: frozenset[Scope] | set[Scope]) -> str:
    """A role's first page: the wallboard for those who run the centre, the campaigns for
    those who only run campaigns, the workplace for operators."""
    if Scope.REPORTS_READ in scopes:
        return "/supervisor/live"
    if Scope.CAMPAIGNS_READ in scopes:
        return "/supervisor/campaigns"
    if Scope.QUALITY_EVALUATE in scopes and Scope.OPERATORS_STATE not in scopes:
        return "/quality"  # a QA evaluator: the queue of calls to evaluate
    return "/operator"


def switch() -> dict[str, Any]:
    """The language switch of every page: codes, short labels, each language's own name."""
    return {"languages": LANGUAGES, "labels": LANGUAGE_LABELS, "names": LANGUAGE_NAMES}


def page_context(
    request: Request, db: Db, principal: Principal, lang: str | None, here: str
) -> dict[str, Any]:
    """What every page has (page_header.html): its language and words, the user, the
    pages this user may open (``here``: the one marked as the current page)."""
    user = db.get(User, principal.user_id) if principal.user_id is not None else None
    language = language_of(lang or (user.language if user else None))
    words = strings(language)
    nav = nav_for(principal.scopes, request.app.state.page_paths, words)
    return {"lang": language, "t": words, **switch(), "user": user, "nav": nav, "here": here}


class PageRequires(Requires):
    """:class:`Requires` for HTML pages: a browser without a valid session goes to log in.

    API clients (no ``text/html`` in Accept) still get 401, so the route walker's
    checks hold for pages too.
    """

    def __call__(  # type: ignore[override]
        self,
        request: Request,
        db: Db,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
        cookie: Annotated[str | None, Depends(cookie_scheme)],
    ) -> Principal:
        try:
            principal = current_principal(request, db, bearer, cookie)
        except HTTPException as exc:
            if exc.status_code != 401 or "text/html" not in request.headers.get("accept", ""):
                raise
            expired = "&expired=1" if cookie else ""  # it had a session: say it ended
            target = f"/operator/login?next={quote(request.url.path, safe='/')}{expired}"
            raise HTTPException(
                303, "log in first", headers={"Location": target, "Cache-Control": "no-store"}
            ) from exc
        try:
            return super().__call__(principal)
        except HTTPException as exc:
            if "text/html" not in request.headers.get("accept", ""):
                raise
            raise PageForbidden(principal) from exc  # a page that says so, with the bar


class PageForbidden(Exception):
    """A logged-in person's browser asked for a page their role may not open."""

    def __init__(self, principal: Principal) -> None:
        super().__init__("this page is not for your role")
        self.principal = principal


async def forbidden_page(request: Request, exc: Exception) -> Response:
    """403 as a page in the user's language, with the pages they may open."""
    assert isinstance(exc, PageForbidden)

    def render() -> Response:
        with request.app.state.sessions() as db:
            context = page_context(request, db, exc.principal, None, request.url.path)
        context["csrf"] = exc.principal.csrf_token or ""  # the header's sign-out, language
        return templates.TemplateResponse(
            request, "forbidden.html", context, status_code=403, headers=PAGE_HEADERS
        )

    return await asyncio.to_thread(render)


@router.get(
    "/",
    response_class=RedirectResponse,
    summary="The web app's address: to the role's home (/home)",
    responses={303: {"description": "to /home"}},
)
def root() -> RedirectResponse:
    """The web app's address: the role's home, through the login page when needed."""
    return RedirectResponse("/home", status_code=303)


@router.get(
    "/home",
    response_class=RedirectResponse,
    summary="The logged-in user's first page, by role (a browser without a session logs in)",
    responses={303: {"description": "to the role's home, or to the login page"}},
)
def home(principal: Annotated[Principal, Depends(PageRequires())]) -> RedirectResponse:
    return RedirectResponse(home_of(principal.scopes), status_code=303)


@router.get(
    "/operator/login",
    response_class=HTMLResponse,
    summary="The operators' login page (HTML)",
)
def login_page(
    request: Request,
    lang: Annotated[Language | None, Query(description="page language: ru, uk or en")] = None,
    next: Annotated[str | None, Query(max_length=200, description="page after login")] = None,
    expired: Annotated[bool, Query(description="the session had expired")] = False,
) -> HTMLResponse:
    language = lang or language_of(request.cookies.get(LANGUAGE_COOKIE))
    response = templates.TemplateResponse(
        request,
        "login.html",
        {
            "lang": language,
            "t": strings(language),
            **switch(),
            "next": _safe_next(next),
            "expired": expired,
        },
        headers=PAGE_HEADERS,
    )
    if lang is not None:
        response.set_cookie(
            LANGUAGE_COOKIE, lang, max_age=365 * 86400, samesite="strict", httponly=True
        )
    return response


@router.get(
    "/operator",
    response_class=HTMLResponse,
    summary="The operator's workplace (HTML): state, live calls, wrap-up forms",
    responses={303: {"description": "not a logged-in user: to the login page"}},
)
def operator_page(
    request: Request,
    db: Db,
    principal: Annotated[Principal, Depends(PageRequires(Scope.OPERATORS_STATE))],
) -> Response:
    user = db.get(User, principal.user_id) if principal.user_id is not None else None
    if user is None:  # an API token: the page is for people who log in
        return RedirectResponse("/operator/login", status_code=303)
    language = language_of(user.language)
    hub: LiveHub | None = getattr(request.app.state, "live", None)
    call = None  # a page opened during a call shows its applicant at once
    if hub is not None and user.claimed_call and user.state in ("ringing", "on_call"):
        call = hub.live_call(user.claimed_call)
        if call is not None:
            call["phase"] = "ringing" if user.state == "ringing" else "answered"
            if Scope.CALLS_READ_PII not in principal.scopes:
                call["caller_number"] = mask_phone(call["caller_number"])
                call["caller_name"] = mask_name(call["caller_name"])
    boot: dict[str, Any] = {
        "user": {
            "id": user.id,
            "login": user.login,
            "full_name": user.full_name,
            "role": user.role,
            "endpoints": list(user.endpoints or []),
        },
        "lang": language,
        "csrf": principal.csrf_token or "",
        "state": {
            "state": user.state,
            "reason": user.state_reason,
            "at": user.state_since.isoformat() if user.state_since else None,
        },
        "pause_reasons": _PAGE_REASONS,
        "call": call,
        "server_time": now().isoformat(),
        "timezone": request.app.state.settings.timezone,  # a call-back's window, shown local
        "i18n": strings(language),
    }
    return templates.TemplateResponse(
        request,
        "operator.html",
        {
            **page_context(request, db, principal, None, "/operator"),
            "boot": boot,
            "pause_reasons": _PAGE_REASONS,
            "my_shift": _my_shift(request, db, user.id, strings(language)),
        },
        headers=PAGE_HEADERS,
    )


def _my_shift(request: Request, db: Db, user_id: int, words: dict[str, str]) -> dict[str, str]:
    """The operator's current or next shift of a published schedule and their next
    break, as sentences ({} when none)."""
    from callagent.planning.schedule_service import operator_shift

    found = operator_shift(db, request.app.state.settings, user_id, now())
    if found is None:
        return {}
    shift = words["sch_my_shift"].format(
        start=found["start"].strftime("%d.%m %H:%M"), end=found["end"].strftime("%H:%M")
    )
    after = found["next_break"]
    pause = (
        words["sch_next_break"].format(
            kind=words[f"sch_kind_{after['kind']}"],
            start=after["start"].strftime("%H:%M"),
            end=after["end"].strftime("%H:%M"),
        )
        if after
        else words["sch_no_break"]
    )
    return {"shift": shift, "next_break": pause}


class LanguageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: Language


class LanguageOut(BaseModel):
    language: Language


@router.post(
    "/operator/language",
    response_model=LanguageOut,
    summary="Save the logged-in user's language (pages, form labels, error messages)",
    responses={400: {"model": Problem}},
)
def set_language(
    body: LanguageIn, db: Db, principal: Annotated[Principal, Depends(Requires())]
) -> LanguageOut:
    user = db.get(User, principal.user_id) if principal.user_id is not None else None
    if user is None:
        raise HTTPException(400, "only a logged-in user has a page language")
    user.language = body.language
    user.updated_at = now()
    db.commit()
    return LanguageOut(language=body.language)


class PhonesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    numbers: list[Annotated[str, Field(max_length=MAX_LENGTH)]] = Field(max_length=100)


class PhonesOut(BaseModel):
    numbers: dict[str, str] = Field(description="each number as given -> as pages show it")


@router.post(
    "/operator/phones",
    response_model=PhonesOut,
    summary="Phone numbers as the pages show them (+7 993 619-64-92)",
    description="The international format of each number's country (libphonenumber); "
    "numbers without a country code are read in CALLAGENT_PHONE_REGION; masked numbers "
    "and extensions come back unchanged. A POST, so that numbers stay out of access logs.",
)
def format_phones(
    body: PhonesIn, request: Request, _: Annotated[Principal, Depends(Requires())]
) -> PhonesOut:
    region: str = request.app.state.settings.phone_region
    return PhonesOut(numbers={n: display_phone(n, region) for n in dict.fromkeys(body.numbers)})


def install(app: FastAPI) -> None:
    """Add the pages and their static files to ``app``."""
    # they import this module
    from callagent.web.admin_pages import router as admin_router
    from callagent.web.calibration_page import router as calibration_router
    from callagent.web.callbacks_page import router as callbacks_router
    from callagent.web.calls_page import router as calls_router
    from callagent.web.campaign_pages import router as campaigns_router
    from callagent.web.complaints_page import router as complaints_router
    from callagent.web.planning_page import router as planning_router
    from callagent.web.quality_page import router as quality_router
    from callagent.web.questions_page import router as questions_router
    from callagent.web.reports_page import router as reports_router

    routers = (
        router,
        campaigns_router,
        reports_router,
        planning_router,
        questions_router,
        complaints_router,
        callbacks_router,
        quality_router,
        calibration_router,
        admin_router,
        calls_router,
    )
    for page_router in routers:
        app.include_router(page_router)
    app.add_exception_handler(PageForbidden, forbidden_page)
    # the navigation bar links only to the pages mounted here
    app.state.page_paths = frozenset(
        getattr(route, "path", "") for page_router in routers for route in page_router.routes
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
