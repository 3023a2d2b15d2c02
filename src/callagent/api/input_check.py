"""Every request's text is fit to store, checked once for every route: 422 before any
schema or handler sees it.

Why one request-level check and not a validator on each schema: a lone surrogate
(``"\\ud800"``) can reach callagent only through JSON's ``\\u`` escapes (or the bytes
ED A0 80, which ``json`` decodes the same way); URL and form decoding replace invalid
UTF-8. So checking the decoded JSON body covers every field of every schema, the keys
and values inside free-form objects (a wrap-up's ``fields``, a campaign's ``message``)
and every schema written later, which a per-field type would have to be remembered on.
The same walk bounds the nesting depth and refuses ``NaN``/``Infinity`` (PostgreSQL's
``json`` type does not take them). A NUL character, which PostgreSQL stores in neither
``text`` nor ``jsonb``, is refused in the body and in query and path parameters too.

The check runs as an app-wide dependency, after FastAPI has decoded the body (the decoded
value is reused, not parsed again) and at the same stage as a malformed body's 422. The
answer is FastAPI's 422 shape, ``{"detail": [{"type", "loc", "msg"}]}``, one item per
problem, without the input (it is what could not be sent back), in the language of
``?lang=`` or ``Accept-Language`` (ru, uk, en; Russian by default, as the wrap-up API).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

from callagent.jsonsafe import (
    LONE_SURROGATE,
    MAX_JSON_DEPTH,
    NOT_FINITE,
    NUL_CHARACTER,
    TOO_DEEP_CODE,
    Loc,
    json_problems,
    text_problem,
)

MESSAGE_LANGUAGES = ("ru", "uk", "en")
MESSAGES: dict[str, dict[str, str]] = {
    LONE_SURROGATE: {
        "ru": "{field}: в тексте одиночный суррогат UTF-16 (\\ud800–\\udfff без пары) — "
        "это не символ Unicode: передайте символ целиком или удалите его.",
        "uk": "{field}: у тексті поодинокий сурогат UTF-16 (\\ud800–\\udfff без пари) — "
        "це не символ Unicode: передайте символ цілком або видаліть його.",
        "en": "{field}: the text holds a lone UTF-16 surrogate (\\ud800-\\udfff without "
        "its pair), which is not a Unicode character: send the character whole or remove it.",
    },
    NUL_CHARACTER: {
        "ru": "{field}: в тексте символ NUL (\\u0000), его нельзя сохранить: удалите его.",
        "uk": "{field}: у тексті символ NUL (\\u0000), його не можна зберегти: видаліть його.",
        "en": "{field}: the text holds the NUL character (\\u0000), which cannot be "
        "stored: remove it.",
    },
    TOO_DEEP_CODE: {
        "ru": "{field}: JSON вложен глубже {max} уровней: передайте более плоское значение.",
        "uk": "{field}: JSON вкладено глибше за {max} рівнів: передайте більш пласке значення.",
        "en": "{field}: the JSON nests deeper than {max} levels: send a flatter value.",
    },
    NOT_FINITE: {
        "ru": "{field}: NaN и Infinity — не числа JSON: передайте конечное число или null.",
        "uk": "{field}: NaN та Infinity — не числа JSON: передайте скінченне число або null.",
        "en": "{field}: NaN and Infinity are not JSON numbers: send a finite number or null.",
    },
}
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def message_language(request: Request) -> str:
    """``?lang=``, else the first of ``Accept-Language`` we speak, else Russian."""
    explicit = request.query_params.get("lang", "")
    if explicit in MESSAGE_LANGUAGES:
        return explicit
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in MESSAGE_LANGUAGES:
            return tag
    return "ru"


def field_name(loc: Loc) -> str:
    """``("body", "fields", "comment")`` -> ``fields.comment``; list items as ``[2]``."""
    name = ""
    for part in loc[1:]:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += ("." if name else "") + part
    return name or str(loc[0])


def problem(loc: Loc, code: str, language: str) -> dict[str, Any]:
    """One item of the 422's ``detail``."""
    text = MESSAGES[code][language].format(field=field_name(loc), max=MAX_JSON_DEPTH)
    return {"type": code, "loc": list(loc), "msg": text}


def _is_json(request: Request) -> bool:
    content_type = request.headers.get("content-type", "application/json")
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def checked_input(request: Request) -> None:
    """The app-wide dependency: raise a 422 naming every unfit field (see the module)."""
    found: list[tuple[Loc, str]] = []
    params = [("query", *item) for item in request.query_params.multi_items()]
    params += [("path", *item) for item in request.path_params.items()]
    for where, name, value in params:
        code = text_problem(value) if isinstance(value, str) else None
        if code is not None:
            found.append(((where, name), code))
    route = request.scope.get("route")
    if (
        request.method in _BODY_METHODS
        and getattr(route, "body_field", None) is not None
        and _is_json(request)
    ):
        try:
            # FastAPI decoded this body before running the dependencies: the same
            # Request keeps the value, so this does not parse it again.
            body = await request.json()
        except (ValueError, RecursionError):  # FastAPI has answered that already
            body = None
        found.extend(json_problems(body, ("body",)))
    if found:
        language = message_language(request)
        raise RequestValidationError([problem(loc, code, language) for loc, code in found])
