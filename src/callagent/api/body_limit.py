"""Request body caps per route, enforced as the bytes stream in (ASGI middleware).

A body is refused with 413 as soon as it declares (``Content-Length``) or has sent more
than its route's cap, before the application buffers or parses it: an unauthenticated
300 MB JSON login costs the bytes read up to the cap, not gigabytes of parsing. The
connection is left open: the server discards the rest of the body (nothing is kept), and
the client, still sending, gets to read the 413 instead of a reset connection.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOGIN_BODY_BYTES = 16 * 1024  # a login and a password; anything bigger is not a login
MULTIPART_SLACK = 64 * 1024  # the multipart framing and the form's other fields (mapping)
_LOGIN = re.compile(r"^/(api/v1/auth/login|operator/login)/?$")
_UPLOAD = re.compile(r"^/api/v1/campaigns/[^/]+/registry(/preview)?/?$")  # a file: upload, preview


@dataclass(frozen=True)
class BodyCaps:
    """The caps: JSON and form bodies, logins, and registry uploads (the file's limit)."""

    json_bytes: int
    upload_bytes: int
    login_bytes: int = LOGIN_BODY_BYTES

    def for_route(self, method: str, path: str) -> tuple[int, str]:
        """(cap in bytes, the setting that sets it) for a request."""
        if _LOGIN.match(path):
            return self.login_bytes, ""
        if method == "POST" and _UPLOAD.match(path):
            return self.upload_bytes + MULTIPART_SLACK, "CALLAGENT_REGISTRY_MAX_BYTES"
        return self.json_bytes, "CALLAGENT_MAX_BODY_BYTES"


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when the body passes its cap.

    An ``HTTPException`` so that FastAPI's body parsing, which turns other errors into a
    400, passes it on and the answer is the 413 with its ``{"detail": ...}``.
    """

    def __init__(self, cap: int, setting: str) -> None:
        super().__init__(413, _detail(cap, setting))


def _detail(cap: int, setting: str) -> str:
    where = f" ({setting})" if setting else ""
    return f"the request body is larger than {cap} bytes{where}: send less in one request"


class BodyLimit:
    """Count each request's body bytes against its route's cap; 413 once it is passed."""

    def __init__(self, app: ASGIApp, *, caps: Callable[[str, str], tuple[int, str]]) -> None:
        self.app = app
        self.caps = caps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap, setting = self.caps(scope["method"], scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > cap:
            await _refuse(send, cap, setting)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise BodyTooLarge(cap, setting)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge:
            if started:  # an answer is under way: nothing more can be said
                raise
            await _refuse(send, cap, setting)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Send, cap: int, setting: str) -> None:
    body = json.dumps({"detail": _detail(cap, setting)}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
