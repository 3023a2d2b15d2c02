"""The wallboard's live stream (``/api/v1/live/board``, Server-Sent Events).

One picture of the centre per kind of viewer (a team, with or without the applicants'
numbers), computed once for all the pages showing it, from the database
(:func:`callagent.reports.live.live_view`): several callagent processes on one
PostgreSQL show the same centre. A picture is recomputed soon after something happens
in this process (a call event from the PBX, a committed change: a state, a wrap-up, a
call written) and at least once a second otherwise (what another process changed, and
the clocks of the tiles). Each page gets the newest picture only: a slow page skips
pictures, it never queues them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from callagent.api.schemas import Problem
from callagent.api.security import StreamRequires
from callagent.auth.scopes import Scope
from callagent.auth.service import Principal, group_endpoints
from callagent.config import Settings
from callagent.reports.live import live_view
from callagent.web.live import HEARTBEAT_SECONDS, RETRY_MILLISECONDS, STREAM_SECONDS
from callagent.web.phones import display_phone

log = logging.getLogger(__name__)

PERIOD_SECONDS = 1.0  # at least this often: other processes' changes, the tiles' clocks
SETTLE_SECONDS = 0.05  # a burst of events becomes one picture
MIN_GAP_SECONDS = 0.2  # at most five pictures a second per kind of viewer


@dataclass(frozen=True, slots=True)
class BoardKey:
    """Who a picture is for: a supervisor's team (None: the whole centre), and whether
    the applicants' numbers are shown unmasked."""

    group: str | None
    pii: bool


@dataclass(slots=True, eq=False)  # compared and hashed by identity
class _Viewer:
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    latest: bytes = b""


Compute = Callable[[BoardKey, datetime], dict[str, Any]]


class LiveBoard:
    """Computes the wallboard's pictures and hands each page the newest one."""

    def __init__(
        self,
        compute: Compute,
        *,
        period: float = PERIOD_SECONDS,
        settle: float = SETTLE_SECONDS,
        min_gap: float = MIN_GAP_SECONDS,
    ) -> None:
        self._compute = compute
        self.period, self.settle, self.min_gap = period, settle, min_gap
        self._viewers: dict[BoardKey, set[_Viewer]] = {}
        self._wakes: dict[BoardKey, asyncio.Event] = {}
        self._producers: dict[BoardKey, asyncio.Task[None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.pictures = 0  # computed so far (the benchmark's and tests' counter)

    # ---------------------------------------------------------------- wiring

    def connect(self, *, sessions: sessionmaker[Session], subscribers: list[Any]) -> None:
        """Wake on every committed change through ``sessions`` and every call event of
        the monitor. Call from the event loop (the lifespan)."""
        self._loop = asyncio.get_running_loop()
        event.listen(sessions, "after_commit", self._committed)
        subscribers.append(self._on_events)

    def disconnect(self, sessions: sessionmaker[Session]) -> None:
        """Stop listening and computing (the lifespan ends)."""
        if event.contains(sessions, "after_commit", self._committed):
            event.remove(sessions, "after_commit", self._committed)
        for task in self._producers.values():
            task.cancel()
        self._producers.clear()
        self._loop = None

    def _committed(self, session: Session) -> None:
        self.nudge_threadsafe()

    def _on_events(self, events: list[Any]) -> None:
        if events:
            self.nudge_threadsafe()

    def nudge_threadsafe(self) -> None:
        """Something changed: recompute soon (from any thread; cheap)."""
        loop = self._loop
        if loop is None or loop.is_closed() or not self._wakes:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(self._wake_all)

    def _wake_all(self) -> None:
        for wake in self._wakes.values():
            wake.set()

    # --------------------------------------------------------------- viewers

    def subscribe(self, key: BoardKey) -> _Viewer:
        """A page starts watching ``key``'s picture (its producer starts if needed)."""
        viewer = _Viewer()
        self._viewers.setdefault(key, set()).add(viewer)
        task = self._producers.get(key)
        if task is None or task.done():
            self._wakes[key] = asyncio.Event()
            self._producers[key] = asyncio.create_task(self._produce(key))
        return viewer

    def unsubscribe(self, key: BoardKey, viewer: _Viewer) -> None:
        """The page went away; the last one of a key stops its producer."""
        viewers = self._viewers.get(key)
        if viewers is None:
            return
        viewers.discard(viewer)
        if not viewers:
            del self._viewers[key]
            self._wakes.pop(key, None)
            task = self._producers.pop(key, None)
            if task is not None:
                task.cancel()

    def viewers(self) -> int:
        """How many pages watch now."""
        return sum(len(v) for v in self._viewers.values())

    # -------------------------------------------------------------- producing

    async def _produce(self, key: BoardKey) -> None:
        loop = asyncio.get_running_loop()
        wake = self._wakes[key]
        last = -self.min_gap
        while key in self._viewers:
            gap = self.min_gap - (loop.time() - last)
            if gap > 0:
                await asyncio.sleep(gap)
            wake.clear()
            last = loop.time()
            picture = await self._picture(key)
            for viewer in list(self._viewers.get(key, ())):
                viewer.latest = picture
                viewer.ready.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self.period)
                await asyncio.sleep(self.settle)

    async def _picture(self, key: BoardKey) -> bytes:
        try:
            view = await asyncio.to_thread(self._compute, key, datetime.now(UTC))
        except Exception as exc:  # the database may be away for a while: say so, go on
            log.warning("wallboard: the centre's picture failed: %s", type(exc).__name__)
            return b"event: unavailable\ndata: {}\n\n"
        self.pictures += 1
        body = json.dumps(view, ensure_ascii=False, separators=(",", ":"), default=str)
        return f"event: board\ndata: {body}\n\n".encode()


def database_board(sessions: sessionmaker[Session], settings: Settings) -> Compute:
    """The pictures of the centre as ``GET /api/v1/reports/live`` gives them, the
    numbers formatted as the pages show them."""

    def compute(key: BoardKey, now: datetime) -> dict[str, Any]:
        with sessions() as session:
            endpoints = group_endpoints(session, group=key.group) if key.group else None
            view = live_view(
                session, settings, now=now, group=key.group, endpoints=endpoints, pii=key.pii
            )
        for operator in view["operators"]:  # as every page shows a number (masked: as is)
            if operator["call"] is not None:
                number = operator["call"]["number"] or ""
                operator["call"]["number"] = display_phone(number, settings.phone_region)
        return view

    return compute


async def _stream(
    board: LiveBoard, key: BoardKey, *, heartbeat: float, lifetime: float
) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    until = loop.time() + lifetime
    viewer = board.subscribe(key)  # here, not before: a page gone before its first byte
    try:
        yield f"retry: {RETRY_MILLISECONDS}\n\n".encode()
        while (left := until - loop.time()) > 0:
            try:
                await asyncio.wait_for(viewer.ready.wait(), min(heartbeat, left))
            except TimeoutError:
                yield b": ping\n\n"
                continue
            viewer.ready.clear()
            yield viewer.latest
    finally:
        board.unsubscribe(key, viewer)


router = APIRouter(prefix="/api/v1/live", tags=["live"])


@router.get(
    "/board",
    summary="The wallboard's live picture of the centre (Server-Sent Events)",
    description=(
        "A `text/event-stream` of `board` events, each the same JSON as "
        "`GET /api/v1/reports/live`: sent within a fraction of a second of a call event "
        "or a committed change in this process, and at least every second (changes made "
        "by other processes on the same database). `unavailable` says the database did "
        "not answer; the stream goes on. A supervisor with a group sees their team; "
        "numbers are masked without `calls:read_pii`."
    ),
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "the event stream"},
        403: {"model": Problem},
    },
)
async def live_board(
    request: Request,
    principal: Annotated[Principal, Depends(StreamRequires(Scope.REPORTS_READ))],
) -> StreamingResponse:
    board: LiveBoard = request.app.state.board
    key = BoardKey(
        principal.group if principal.sees_only_group_calls else None,
        Scope.CALLS_READ_PII in principal.scopes,
    )
    return StreamingResponse(
        _stream(board, key, heartbeat=HEARTBEAT_SECONDS, lifetime=STREAM_SECONDS),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
