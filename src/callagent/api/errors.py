"""Error answers: one handler for every :class:`ServiceError`, and the 422 of invalid
requests without the (possibly huge) input echoed back."""

from __future__ import annotations

import json
from typing import Any, cast

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from callagent.errors import ServiceError


def service_error_response(request: Request, exc: Exception) -> JSONResponse:
    """``{"detail": ...}`` with the error's status and headers, as ``HTTPException`` gives;
    with ``code`` and ``params`` when the error has a code (pages translate it)."""
    error = cast(ServiceError, exc)  # registered for ServiceError (and its subclasses) only
    body: dict[str, Any] = {"detail": error.detail}
    if error.code:
        body["code"] = error.code
        body["params"] = jsonable_encoder(error.params)
    return JSONResponse(body, status_code=error.status, headers=error.headers)


MAX_ECHO_CHARS = 200  # of an invalid value repeated in a 422 answer
MAX_ERRORS_SHOWN = 20


def _short(value: Any) -> Any:
    """A value as sent, or its first characters when it is long (never echo a big input)."""
    encoded = jsonable_encoder(value)
    if isinstance(encoded, str):
        text = encoded
    elif isinstance(encoded, int | float | bool) or encoded is None:
        return encoded
    else:
        text = json.dumps(encoded, ensure_ascii=False, default=str)
        if len(text) <= MAX_ECHO_CHARS:
            return encoded
    if len(text) <= MAX_ECHO_CHARS:
        return text
    return f"{text[:MAX_ECHO_CHARS]}… ({len(text)} characters)"


def validation_error_response(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 ``{"detail": [errors]}``, with each error's ``input`` cut short and
    at most :data:`MAX_ERRORS_SHOWN` errors: a 20 MB body is not sent back (doubled)."""
    errors = cast(RequestValidationError, exc).errors()
    shown: list[dict[str, Any]] = []
    for error in errors[:MAX_ERRORS_SHOWN]:
        item = {key: value for key, value in error.items() if key not in ("input", "ctx", "url")}
        if "input" in error:
            item["input"] = _short(error["input"])
        if "ctx" in error:
            item["ctx"] = {key: _short(value) for key, value in error["ctx"].items()}
        shown.append(item)
    if len(errors) > MAX_ERRORS_SHOWN:
        shown.append(
            {
                "type": "more_errors",
                "loc": ["body"],
                "msg": f"{len(errors) - MAX_ERRORS_SHOWN} more errors not shown",
            }
        )
    return JSONResponse({"detail": jsonable_encoder(shown)}, status_code=422)
