"""The HTTP answer to a service's refusal: one handler for every :class:`ServiceError`."""

from __future__ import annotations

from typing import cast

from fastapi import Request
from fastapi.responses import JSONResponse

from callagent.errors import ServiceError


def service_error_response(request: Request, exc: Exception) -> JSONResponse:
    """``{"detail": ...}`` with the error's status and headers, as ``HTTPException`` gives."""
    error = cast(ServiceError, exc)  # registered for ServiceError (and its subclasses) only
    return JSONResponse({"detail": error.detail}, status_code=error.status, headers=error.headers)
