"""``POST /api/v1/callbacks/requests``: the office website's call-back requests (public).

No user logs in here: the website signs the raw body with the site key
(:mod:`callagent.callbacks.guard`), so the signature is checked on the bytes before
anything is parsed. Then the body is checked field by field, every problem named at
once in the language of ``?lang=`` / ``Accept-Language`` (ru, uk, en, as
:mod:`callagent.api.input_check` answers), and nothing is stored unless all is well.
The answer to a well-formed, signed request is always the same 202: it never tells
whether that number already has a call-back, or reached its daily limit.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from callagent.api.input_check import field_name, message_language
from callagent.api.input_check import problem as text_problem_item
from callagent.api.schemas import Problem
from callagent.callbacks.guard import SIGNATURE_HEADER, TIMESTAMP_HEADER, Limits, SiteKey
from callagent.callbacks.schedule import WindowProblem, applicant_zone, aware, check_window
from callagent.callbacks.service import Policy, submit, utcnow
from callagent.campaigns.phones import parse_phone
from callagent.errors import ServiceError
from callagent.jsonsafe import json_problems

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/callbacks", tags=["callbacks"])
PATH = "/api/v1/callbacks/requests"
MAX_NAME = 255
MAX_TOPIC = 255
_FIELDS = ("name", "phone", "topic", "window_from", "window_to", "consent", "language")

# The refusals' words: {field} is the field's name as sent.
MESSAGES: dict[str, dict[str, str]] = {
    "callback_not_configured": {
        "ru": "Приём заявок на обратный звонок не настроен (нет ключа сайта).",
        "uk": "Приймання заявок на зворотний дзвінок не налаштовано (немає ключа сайту).",
        "en": "Call-back requests are not set up here (no site key is configured).",
    },
    "callback_signature_missing": {
        "ru": "Нет подписи сайта: нужны заголовки X-Callagent-Timestamp и X-Callagent-Signature.",
        "uk": "Немає підпису сайту: потрібні заголовки X-Callagent-Timestamp і "
        "X-Callagent-Signature.",
        "en": "The site's signature is missing: send X-Callagent-Timestamp and "
        "X-Callagent-Signature.",
    },
    "callback_signature_invalid": {
        "ru": "Подпись сайта неверна: заявка не от сайта центра.",
        "uk": "Підпис сайту невірний: заявка не від сайту центру.",
        "en": "The site's signature is wrong: the request is not from the centre's website.",
    },
    "callback_signature_stale": {
        "ru": "Подпись устарела (время запроса расходится больше чем на 5 минут): "
        "подпишите заявку заново.",
        "uk": "Підпис застарів (час запиту розходиться більше ніж на 5 хвилин): "
        "підпишіть заявку знову.",
        "en": "The signature is stale (its timestamp is more than 5 minutes off): sign the "
        "request again.",
    },
    "callback_signature_replayed": {
        "ru": "Эта подписанная заявка уже была принята: повтор не принимается.",
        "uk": "Цю підписану заявку вже прийнято: повтор не приймається.",
        "en": "This signed request was accepted already: a replay is refused.",
    },
    "callback_too_many": {
        "ru": "Слишком много заявок с этого адреса: попробуйте через {wait} с.",
        "uk": "Забагато заявок з цієї адреси: спробуйте за {wait} с.",
        "en": "Too many requests from this address: try again in {wait} s.",
    },
    "callback_not_json": {
        "ru": "Тело заявки — не объект JSON.",
        "uk": "Тіло заявки — не об'єкт JSON.",
        "en": "The request body is not a JSON object.",
    },
    "callback_missing": {
        "ru": "{field}: поле обязательно.",
        "uk": "{field}: поле обов'язкове.",
        "en": "{field}: this field is required.",
    },
    "callback_unknown_field": {
        "ru": "{field}: такого поля нет (есть: name, phone, topic, window_from, window_to, "
        "consent, language).",
        "uk": "{field}: такого поля немає (є: name, phone, topic, window_from, window_to, "
        "consent, language).",
        "en": "{field}: no such field (known: name, phone, topic, window_from, window_to, "
        "consent, language).",
    },
    "callback_text": {
        "ru": "{field}: нужен текст до {max} символов.",
        "uk": "{field}: потрібен текст до {max} символів.",
        "en": "{field}: text of at most {max} characters is needed.",
    },
    "callback_name_empty": {
        "ru": "{field}: укажите имя.",
        "uk": "{field}: вкажіть ім'я.",
        "en": "{field}: give a name.",
    },
    "callback_phone_invalid": {
        "ru": "{field}: это не номер телефона (например, +7 916 123-45-67).",
        "uk": "{field}: це не номер телефону (наприклад, +380 44 123 45 67).",
        "en": "{field}: this is not a phone number (e.g. +7 916 123-45-67).",
    },
    "callback_time_invalid": {
        "ru": "{field}: нужны дата и время ISO 8601, например 2026-12-07T14:00 "
        "(без смещения — по времени номера заявителя).",
        "uk": "{field}: потрібні дата й час ISO 8601, наприклад 2026-12-07T14:00 "
        "(без зміщення — за часом номера заявника).",
        "en": "{field}: an ISO 8601 date and time is needed, e.g. 2026-12-07T14:00 "
        "(without an offset: the applicant's number's local time).",
    },
    "callback_consent_needed": {
        "ru": "{field}: без согласия на обработку персональных данных заявку принять нельзя.",
        "uk": "{field}: без згоди на обробку персональних даних заявку прийняти не можна.",
        "en": "{field}: the request cannot be accepted without consent to the processing "
        "of personal data.",
    },
    "callback_language": {
        "ru": "{field}: язык ru, uk или en.",
        "uk": "{field}: мова ru, uk або en.",
        "en": "{field}: the language is ru, uk or en.",
    },
    "callback_window_order": {
        "ru": "{field}: окно заканчивается раньше, чем начинается.",
        "uk": "{field}: вікно закінчується раніше, ніж починається.",
        "en": "{field}: the window ends before it starts.",
    },
    "callback_window_short": {
        "ru": "{field}: окно короче 15 минут.",
        "uk": "{field}: вікно коротше за 15 хвилин.",
        "en": "{field}: the window is shorter than 15 minutes.",
    },
    "callback_window_long": {
        "ru": "{field}: окно длиннее 14 дней.",
        "uk": "{field}: вікно довше за 14 днів.",
        "en": "{field}: the window is longer than 14 days.",
    },
    "callback_window_past": {
        "ru": "{field}: окно уже прошло (или закончится в ближайшие 15 минут).",
        "uk": "{field}: вікно вже минуло (або закінчиться протягом 15 хвилин).",
        "en": "{field}: the window has passed (or ends within 15 minutes).",
    },
    "callback_window_ahead": {
        "ru": "{field}: окно начинается позже чем через 30 дней.",
        "uk": "{field}: вікно починається пізніше ніж за 30 днів.",
        "en": "{field}: the window starts more than 30 days ahead.",
    },
    "callback_accepted": {
        "ru": "Заявка принята: мы перезвоним в выбранное время.",
        "uk": "Заявку прийнято: ми зателефонуємо у вибраний час.",
        "en": "Request received: we will call you back in the time you chose.",
    },
}


class CallbackRequestIn(BaseModel):
    """The body the website sends (documented here; checked by hand, see the module)."""

    name: str = Field(min_length=1, max_length=MAX_NAME, description="the applicant's name")
    phone: str = Field(max_length=32, description="the number to call back")
    topic: str = Field(default="", max_length=MAX_TOPIC, description="what it is about")
    window_from: datetime = Field(
        description="from when to call (ISO 8601; without an offset: the number's local time)"
    )
    window_to: datetime = Field(description="until when to call")
    consent: Literal[True] = Field(description="consent to personal-data processing")
    language: Literal["ru", "uk", "en"] | None = Field(
        default=None, description="the applicant's language (default: the request's)"
    )


class Accepted(BaseModel):
    status: Literal["accepted"]
    detail: str


def _text(language: str, code: str, **params: Any) -> str:
    return MESSAGES[code][language].format(**params)


def _refuse(status: int, code: str, language: str, **params: Any) -> ServiceError:
    headers = {"Retry-After": str(params["wait"])} if "wait" in params else None
    return ServiceError(status, _text(language, code, **params), headers, code=code, params=params)


def _item(loc: tuple[str | int, ...], code: str, language: str, **params: Any) -> dict[str, Any]:
    text = MESSAGES[code][language].format(field=field_name(loc), **params)
    return {"type": code, "loc": list(loc), "msg": text}


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def check_body(
    raw: bytes, *, language: str, region: str, centre: str, now: datetime
) -> dict[str, Any]:
    """The request's fields, checked and normalised; RequestValidationError naming every
    problem in ``language`` otherwise."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        body = None
    if not isinstance(body, dict):
        raise RequestValidationError([_item(("body",), "callback_not_json", language)])
    unfit = json_problems(body, ("body",))
    if unfit:
        raise RequestValidationError([text_problem_item(loc, c, language) for loc, c in unfit])
    found: list[dict[str, Any]] = []
    for key in body:
        if key not in _FIELDS:
            found.append(_item(("body", key), "callback_unknown_field", language))
    for key in ("name", "phone", "window_from", "window_to", "consent"):
        if key not in body:
            found.append(_item(("body", key), "callback_missing", language))
    out: dict[str, Any] = {}
    for key, longest in (("name", MAX_NAME), ("topic", MAX_TOPIC)):
        if key in body:
            value = body[key]
            if not isinstance(value, str) or len(value) > longest:
                found.append(_item(("body", key), "callback_text", language, max=longest))
            elif key == "name" and not value.strip():
                found.append(_item(("body", key), "callback_name_empty", language))
            else:
                out[key] = " ".join(value.split())
    if "phone" in body:
        value = body["phone"]
        phone = parse_phone(value, region) if isinstance(value, str) and len(value) <= 32 else None
        if phone is None:
            found.append(_item(("body", "phone"), "callback_phone_invalid", language))
        else:
            out["phone"] = phone.e164
    if "consent" in body and body["consent"] is not True:
        found.append(_item(("body", "consent"), "callback_consent_needed", language))
    spoken = body.get("language")
    if spoken is not None and spoken not in ("ru", "uk", "en"):
        found.append(_item(("body", "language"), "callback_language", language))
    times: dict[str, datetime] = {}
    for key in ("window_from", "window_to"):
        if key in body:
            moment = _time(body[key])
            if moment is None:
                found.append(_item(("body", key), "callback_time_invalid", language))
            else:
                times[key] = moment
    if not found and len(times) == 2:
        zone = applicant_zone(out["phone"], centre)
        start, end = aware(times["window_from"], zone), aware(times["window_to"], zone)
        try:
            check_window(start, end, now)
        except WindowProblem as exc:
            found.append(_item(("body", exc.field), exc.code, language))
        out["window_from"], out["window_to"] = start, end
    if found:
        raise RequestValidationError(found)
    out.setdefault("topic", "")
    out["language"] = spoken or language
    return out


def _client(request: Request) -> str:
    # uvicorn has already replaced the peer by X-Forwarded-For's client when the peer is
    # one of CALLAGENT_TRUSTED_PROXIES (callagent serve passes them), as for logins
    return request.client.host if request.client else "unknown"


@router.post(
    "/requests",
    status_code=202,
    response_model=Accepted,
    summary="A call-back request from the office's website (signed with the site key)",
    responses={
        401: {"model": Problem, "description": "no, a wrong, a stale or a replayed signature"},
        422: {"description": "the fields' problems, each named (nothing is stored)"},
        429: {"model": Problem, "description": "too many from this address (Retry-After)"},
        404: {"model": Problem, "description": "no site key configured: no intake here"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": CallbackRequestIn.model_json_schema()}},
        },
        "parameters": [
            {
                "name": TIMESTAMP_HEADER,
                "in": "header",
                "required": True,
                "schema": {"type": "integer"},
            },
            {
                "name": SIGNATURE_HEADER,
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
            },
        ],
    },
)
async def callback_request(request: Request) -> JSONResponse:
    """Check the site key, the address's limit and the fields; store the request and
    its call-back task; answer 202 the same way whether it was stored or dropped."""
    state = request.app.state
    language = message_language(request)
    site: SiteKey | None = getattr(state, "callback_site_key", None)
    if site is None:
        # 404, not 503: nothing is wrong with the service, the intake is not set up here
        raise _refuse(404, "callback_not_configured", language)
    limits: Limits = state.callback_limits
    address = _client(request)
    clock = time.time()
    wait = limits.address_wait(address, clock)
    if wait:
        log.warning("call-back requests from %s refused for %d s: over the limit", address, wait)
        raise _refuse(429, "callback_too_many", language, wait=wait)
    limits.count_address(address, clock)
    raw = await request.body()
    refused = site.problem(
        timestamp=request.headers.get(TIMESTAMP_HEADER, ""),
        signature=request.headers.get(SIGNATURE_HEADER, ""),
        body=raw,
        now=clock,
    )
    if refused is not None:
        log.warning("call-back request from %s refused: %s", address, refused)
        raise _refuse(401, refused, language)
    settings = state.settings
    now = utcnow()
    fields = check_body(
        raw, language=language, region=settings.phone_region, centre=settings.timezone, now=now
    )
    accepted = JSONResponse(
        {"status": "accepted", "detail": _text(language, "callback_accepted")}, status_code=202
    )
    if not limits.number_allows(fields["phone"], clock):
        log.info("call-back request not stored: its number's daily limit")
        return accepted
    policy: Policy = state.callback_policy

    def store() -> int | None:
        with state.sessions.begin() as session:
            task = submit(session, policy=policy, now=now, **fields)
            return task.id if task is not None else None

    task_id = await run_in_threadpool(store)
    if task_id is None:
        log.info("call-back request not stored: its number has an open call-back")
    else:
        log.info("call-back request stored as task %d", task_id)
    return accepted
