"""Requests in flight, bounded per class of route: a full class answers 503 at once.

Without a bound, a burst of API reads queued on the worker threads and the database
pool until every request timed out, health checks included. Each class (the JSON API,
the web pages) gets its own count; a request over its class's limit is answered
``503`` with ``Retry-After`` and the app's error shape ``{"detail": ...}`` before it
reaches a thread or a connection. Paths of no class (health, metrics, the live event
stream, static files) are never limited.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

# Retry-After spreads the refused over as many seconds as it takes to let about this many
# retries a second per place in flight come back; never more than MAX_RETRY_AFTER. With one
# fixed Retry-After, 2,000 refused clients came back together every second: the service
# spent its loop answering 503 and FastAGI dialogues waited seconds behind them.
RETRIES_PER_PLACE = 2
MAX_RETRY_AFTER = 60

# How often a class that keeps refusing is logged (one WARNING with the count, not one a
# request: a burst of thousands would otherwise flood the log it is meant to explain).
LOG_EVERY = 10.0


@dataclass(frozen=True)
class RouteClass:
    """Paths starting with one of ``prefixes`` (and none of ``exempt``), at most ``limit``
    of them handled at once."""

    name: str
    prefixes: tuple[str, ...]
    limit: int
    exempt: tuple[str, ...] = ()

    def matches(self, path: str) -> bool:
        """Whether ``path`` belongs to this class."""
        return path.startswith(self.prefixes) and not path.startswith(self.exempt)


class InFlightLimit:
    """ASGI middleware counting the requests of each :class:`RouteClass` in flight.

    The first class whose prefixes match a path is its class. A count, not a semaphore
    to wait on: everything runs on the event loop, and a full class must answer now.
    """

    def __init__(self, app: ASGIApp, classes: Sequence[RouteClass], retry_after: int) -> None:
        self.app = app
        self.classes = tuple(classes)
        self.retry_after = retry_after
        self.in_flight: dict[str, int] = {c.name: 0 for c in self.classes}
        self.refused: dict[str, int] = {c.name: 0 for c in self.classes}
        self._logged: dict[str, tuple[float, int]] = {}
        # per class: (this second, refusals in it, refusals in the second before), turn
        self._rate: dict[str, tuple[int, int, int]] = {c.name: (0, 0, 0) for c in self.classes}
        self._turn: dict[str, int] = {c.name: 0 for c in self.classes}

    def class_of(self, path: str) -> RouteClass | None:
        """The class ``path`` counts against, or ``None`` for an unlimited path."""
        for route_class in self.classes:
            if route_class.matches(path):
                return route_class
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route_class = self.class_of(scope["path"]) if scope["type"] == "http" else None
        if route_class is None:
            await self.app(scope, receive, send)
            return
        name = route_class.name
        if self.in_flight[name] >= route_class.limit:
            self.refused[name] += 1
            self._log_refusals(route_class)
            await self._refuse(send, self.retry_after_for(route_class))
            return
        self.in_flight[name] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight[name] -= 1

    def retry_after_for(self, route_class: RouteClass) -> int:
        """The Retry-After of one more refusal: the configured seconds when few are refused;
        when many are, the refused are dealt out in turn over as many seconds as let about
        ``RETRIES_PER_PLACE`` x limit of them back each second."""
        name = route_class.name
        now = int(time.monotonic())
        second, count, before = self._rate[name]
        if now != second:
            before = count if now == second + 1 else 0
            second, count = now, 0
        count += 1
        self._rate[name] = (second, count, before)
        per_second = RETRIES_PER_PLACE * route_class.limit
        spread = min(MAX_RETRY_AFTER, max(1, -(-max(count, before) // per_second)))
        turn = self._turn[name] = (self._turn[name] + 1) % spread
        return min(MAX_RETRY_AFTER, self.retry_after + turn)

    async def _refuse(self, send: Send, retry_after: int) -> None:
        body = json.dumps({"detail": f"the service is busy: try again in {retry_after} s"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry_after).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _log_refusals(self, route_class: RouteClass) -> None:
        now = time.monotonic()
        last, count = self._logged.get(route_class.name, (0.0, 0))
        if now - last < LOG_EVERY:
            return
        refused = self.refused[route_class.name]
        self._logged[route_class.name] = (now, refused)
        log.warning(
            "%s requests over the limit of %d in flight answered 503 (%d since the last report)",
            route_class.name,
            route_class.limit,
            refused - count,
        )


async def build_route_table(app: Any) -> None:
    """Have FastAPI build its route table now rather than on the first request.

    FastAPI builds each route's matching state (dependants, parameter models) the first
    time a request walks past it: the first request after start-up held the event loop
    for about 0.7 s (measured on /healthz), and every FastAGI dialogue with it. One
    request for a path no route has walks them all; it goes to the router alone (no
    middleware: it is no one's request) and its 404 is dropped.
    """
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/.callagent-build-route-table",
        "raw_path": b"/.callagent-build-route-table",
        "query_string": b"",
        "root_path": "",
        "headers": [],
        "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", 0),
    }

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        return None

    await app.router(scope, receive, send)
