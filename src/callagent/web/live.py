"""Live events for the operators' pages: one hub per process, served as Server-Sent Events.

Two sources feed the hub:

- operators' state changes, read from the ORM's own change history of ``users.state``
  when a session flushes and published only when that transaction commits (dropped
  on a rollback). The OperatorBook's listeners would run inside the transaction and
  on whichever worker thread applies the change: a page reacting to such an event by
  reading the API could see the old state, or a change that never happened;
- the tracker's call events (an operator's phone ringing, answered, the call ended),
  mapped from the phone endpoint to the operator who owns it, with the applicant's
  number and name;
- the campaign dialer in operator mode: ``campaign_preview``, the registry entry shown
  to the operator it claimed before the applicant is dialled
  (:func:`callagent.campaigns.scheduler.live_preview`).

Each logged-in user gets only their own events. A page that reconnects sends
``Last-Event-ID`` and gets what it missed from a short per-user backlog; every
connection starts with a snapshot of the user's state.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import uuid
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, SessionTransaction, UOWTransaction, sessionmaker

from callagent.api.schemas import Problem
from callagent.api.security import StreamRequires
from callagent.auth.masking import mask_name, mask_phone
from callagent.auth.scopes import Scope
from callagent.auth.service import Principal
from callagent.db.models import User
from callagent.db.queries import EndpointOwners
from callagent.routing.operators import OperatorBook
from callagent.tracker.events import CallAnswered, CallEnded, DomainEvent, OperatorRinging
from callagent.tracker.records import build_record
from callagent.tracker.state import CallKey
from callagent.tracker.tracker import Tracker

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0  # a comment line keeps proxies from closing an idle stream
STREAM_SECONDS = 300.0  # then the page reconnects (with Last-Event-ID): no stream lives forever
RETRY_MILLISECONDS = 1000  # how soon EventSource reconnects
_MAX_CALLS = 10_000  # live calls remembered for their "ended" event


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """One event for one user, as sent on the stream."""

    id: str
    kind: str  # "state", "call", "campaign_preview"
    data: dict[str, Any]

    def encode(self) -> bytes:
        """The event in text/event-stream framing."""
        body = json.dumps(self.data, ensure_ascii=False, separators=(",", ":"))
        head = f"id: {self.id}\n" if self.id else ""  # no id: the page's last id stays
        return f"{head}event: {self.kind}\ndata: {body}\n\n".encode()


@dataclass(slots=True, eq=False)  # compared and hashed by identity
class _Subscriber:
    queue: asyncio.Queue[LiveEvent] = field(default_factory=lambda: asyncio.Queue(maxsize=200))
    overflowed: bool = False  # fell behind: the stream ends and the page catches up


@dataclass(slots=True)
class _CallInfo:
    number: str
    name: str
    direction: str
    endpoints: set[str] = field(default_factory=set)


def _utcnow() -> str:
    return datetime.now(UTC).isoformat()


_HELD = "callagent.live.state_changes"  # session.info key: changes waiting for the commit


class LiveHub:
    """Fans events out to the streams of the users they belong to."""

    def __init__(
        self,
        tracker: Tracker | None = None,
        *,
        backlog: int = 50,
        owners: EndpointOwners | None = None,
    ) -> None:
        self.tracker = tracker
        self.boot = uuid.uuid4().hex[:8]  # event ids of an earlier process are not replayed
        self.published = 0
        self._seq = itertools.count(1)
        self._backlog_size = backlog
        self._subscribers: dict[int, set[_Subscriber]] = defaultdict(set)
        self._backlog: dict[int, deque[LiveEvent]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._calls: dict[CallKey, _CallInfo] = {}
        self._call_events: asyncio.Queue[tuple[str, CallKey, tuple[str, ...], _CallInfo]] = (
            asyncio.Queue()
        )
        self._owners = owners  # who answers on which phone (the operator book's cache)
        # Several instances: every event published here also goes to the others' pages
        # (web/live_bridge.py, PostgreSQL NOTIFY); None with one instance.
        self.forward: Callable[[int, str, dict[str, Any]], None] | None = None

    # ---------------------------------------------------------------- wiring

    def connect(self, *, sessions: sessionmaker[Session], subscribers: list[Any]) -> None:
        """Follow state changes committed through ``sessions`` and the monitor's call events.

        Call from the event loop (the lifespan): events from worker threads are
        handed over to it.
        """
        self._loop = asyncio.get_running_loop()
        if self._owners is None:
            self._owners = EndpointOwners(sessions)
        event.listen(sessions, "after_flush", self._after_flush)
        event.listen(sessions, "after_commit", self._after_commit)
        event.listen(sessions, "after_transaction_end", self._after_transaction_end)
        subscribers.append(self.on_domain_events)

    def _handlers(self) -> tuple[tuple[str, Any], ...]:
        return (
            ("after_flush", self._after_flush),
            ("after_commit", self._after_commit),
            ("after_transaction_end", self._after_transaction_end),
        )

    def disconnect(self, sessions: sessionmaker[Session]) -> None:
        """Stop listening to the sessions (the lifespan ends)."""
        for name, handler in self._handlers():
            if event.contains(sessions, name, handler):
                event.remove(sessions, name, handler)
        self._loop = None

    # ------------------------------------------------------------ publishing

    def publish(
        self, user_id: int, kind: str, data: dict[str, Any], *, forward: bool = True
    ) -> LiveEvent:
        """Send an event to ``user_id``'s streams (call on the event loop); ``forward``:
        to the other instances' pages too (False for an event another instance sent)."""
        if forward and self.forward is not None:
            self.forward(user_id, kind, data)
        item = LiveEvent(f"{self.boot}-{next(self._seq)}", kind, data)
        backlog = self._backlog.get(user_id)
        if backlog is None:
            backlog = self._backlog[user_id] = deque(maxlen=self._backlog_size)
        backlog.append(item)
        self.published += 1
        for subscriber in list(self._subscribers.get(user_id, ())):
            try:
                subscriber.queue.put_nowait(item)
            except asyncio.QueueFull:
                subscriber.overflowed = True
        return item

    def publish_threadsafe(self, user_id: int, kind: str, data: dict[str, Any]) -> None:
        """:meth:`publish` from any thread (the database workers); dropped after shutdown."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(self.publish, user_id, kind, data)

    # ------------------------------------------------------- operator states

    @staticmethod
    def _after_flush(session: Session, flush: UOWTransaction) -> None:
        # Still the pre-flush view here: the attributes' history says what changed.
        held: list[tuple[int, dict[str, Any]]] | None = None
        for item in session.dirty:
            if not isinstance(item, User):
                continue
            attrs = inspect(item).attrs
            state, reason = attrs.state.history, attrs.state_reason.history
            if not (state.has_changes() or reason.has_changes()):
                continue
            before = state.deleted[0] if state.deleted else item.state
            data = {"state": item.state, "from_state": before, "reason": item.state_reason}
            data["at"] = item.state_since.isoformat() if item.state_since else _utcnow()
            if held is None:
                held = session.info.setdefault(_HELD, [])
            held.append((item.id, data))

    def _after_commit(self, session: Session) -> None:
        for user_id, data in session.info.pop(_HELD, []):
            self.publish_threadsafe(user_id, "state", data)

    @staticmethod
    def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None:  # rolled back or closed: those changes did not happen
            session.info.pop(_HELD, None)

    # ----------------------------------------------------------------- calls

    def on_domain_events(self, events: list[DomainEvent]) -> None:
        """The monitor's subscriber (AMI read path): cheap, in memory, never blocks."""
        for item in events:
            if isinstance(item, OperatorRinging | CallAnswered):
                phase = "ringing" if isinstance(item, OperatorRinging) else "answered"
                info = self._call_info(item.key)
                info.endpoints.add(item.endpoint)
                self._call_events.put_nowait((phase, item.key, (item.endpoint,), info))
            elif isinstance(item, CallEnded):
                ended = self._calls.pop(item.key, None)
                if ended is None:
                    continue  # no operator's phone rang: nobody to tell
                endpoints = tuple(sorted(ended.endpoints | set(item.operators)))
                self._call_events.put_nowait(("ended", item.key, endpoints, ended))

    def _call_info(self, key: CallKey) -> _CallInfo:
        info = self._calls.get(key)
        if info is not None and info.number:
            return info
        number = name = ""
        direction = "inbound"
        state = self.tracker.calls.get(key) if self.tracker is not None else None
        if state is not None:
            record = build_record(state)
            number, name, direction = (
                record.applicant_number,
                record.caller_name,
                record.direction,
            )
        if info is None:
            if len(self._calls) >= _MAX_CALLS:  # calls whose end we never saw
                self._calls.pop(next(iter(self._calls)))
            info = self._calls[key] = _CallInfo(number, name, direction)
        else:
            info.number, info.name, info.direction = number, name, direction
        return info

    def rings_at(self, number: str, endpoints: Iterable[str]) -> bool:
        """Whether a call in progress with ``number`` has rung one of ``endpoints``.

        The operator's page learns of a ringing call from here, before the writer has
        stored it; the caller's history may be read from that first ring. Called from
        worker threads: the calls are copied in one step (the loop thread adds to them).
        """
        phones = set(endpoints)
        if not number or not phones:
            return False
        return any(
            info.number == number and not info.endpoints.isdisjoint(phones)
            for info in list(self._calls.values())
        )

    def live_call(self, call_key: str) -> dict[str, Any] | None:
        """The applicant of a call in progress (``node:linkedid``), for a page opened mid-call."""
        node, _, linkedid = call_key.partition(":")
        info = self._calls.get((node, linkedid))
        if info is None:
            return None
        return {
            "phase": "answered",
            "call_key": call_key,
            "caller_number": info.number,
            "caller_name": info.name,
            "direction": info.direction,
            "endpoint": next(iter(sorted(info.endpoints)), ""),
            "at": _utcnow(),
        }

    async def run(self) -> None:
        """Deliver call events to the operators whose phones they concern (until cancelled)."""
        while True:
            phase, key, endpoints, info = await self._call_events.get()
            try:
                owners = await self._owners_of(endpoints)
            except Exception as exc:  # the database may be away for a while
                log.warning("live events: operators of a phone unknown: %s", type(exc).__name__)
                continue
            for endpoint, user_id in owners:
                self.publish(
                    user_id,
                    "call",
                    {
                        "phase": phase,
                        "call_key": ":".join(key),
                        "caller_number": info.number,
                        "caller_name": info.name,
                        "direction": info.direction,
                        "endpoint": endpoint,
                        "at": _utcnow(),
                    },
                )

    async def _owners_of(self, endpoints: tuple[str, ...]) -> list[tuple[str, int]]:
        cache = self._owners
        if cache is None:
            return []
        owners = cache.get(endpoints) if cache.fresh(endpoints) else None
        if owners is None:
            owners = await asyncio.to_thread(cache.get, endpoints)
        return [(e, owners[e][0]) for e in endpoints if e in owners]

    # ------------------------------------------------------------- streaming

    def subscribe(self, user_id: int, last_event_id: str | None) -> tuple[_Subscriber, list[Any]]:
        """A new stream of ``user_id``'s events and what it missed since ``last_event_id``."""
        subscriber = _Subscriber()
        self._subscribers[user_id].add(subscriber)
        missed: list[LiveEvent] = []
        if last_event_id and last_event_id.startswith(self.boot + "-"):
            backlog = list(self._backlog.get(user_id, ()))
            ids = [item.id for item in backlog]
            if last_event_id in ids:
                missed = backlog[ids.index(last_event_id) + 1 :]
        return subscriber, missed

    def last_id(self, user_id: int) -> str:
        """The id of the newest event of ``user_id`` (empty when none)."""
        backlog = self._backlog.get(user_id)
        return backlog[-1].id if backlog else ""

    def unsubscribe(self, user_id: int, subscriber: _Subscriber) -> None:
        """The stream ended."""
        streams = self._subscribers.get(user_id)
        if streams is not None:
            streams.discard(subscriber)
            if not streams:
                del self._subscribers[user_id]

    def streams(self, user_id: int) -> int:
        """How many streams ``user_id`` has open now."""
        return len(self._subscribers.get(user_id, ()))


router = APIRouter(prefix="/api/v1/live", tags=["live"])


# The applicant's number and name in each kind of event: masked without calls:read_pii.
_PII_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "call": (("caller_number",), ("caller_name",)),
    "campaign_preview": (("phone",), ("applicant_name",)),
    "callback_preview": (("phone",), ("name",)),
}


def _masked(item: LiveEvent, principal: Principal) -> LiveEvent:
    """``item`` as ``principal`` may see it (numbers and names masked without PII scope)."""
    fields = _PII_FIELDS.get(item.kind)
    if fields is None or Scope.CALLS_READ_PII in principal.scopes:
        return item
    phones, names = fields
    data = dict(item.data)
    for key in phones:
        data[key] = mask_phone(str(data.get(key) or ""))
    for key in names:
        data[key] = mask_name(str(data.get(key) or ""))
    return LiveEvent(item.id, item.kind, data)


async def _stream(
    hub: LiveHub,
    principal: Principal,
    user_id: int,
    first: list[LiveEvent],
    subscriber: _Subscriber,
    *,
    heartbeat: float,
    lifetime: float,
) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    until = loop.time() + lifetime
    try:
        yield f"retry: {RETRY_MILLISECONDS}\n\n".encode()
        for item in first:
            yield _masked(item, principal).encode()
        while not subscriber.overflowed:
            left = until - loop.time()
            if left <= 0:
                return
            try:
                item = await asyncio.wait_for(subscriber.queue.get(), min(heartbeat, left))
            except TimeoutError:
                yield b": ping\n\n"
                continue
            yield _masked(item, principal).encode()
    finally:
        hub.unsubscribe(user_id, subscriber)


@router.get(
    "/events",
    summary="The logged-in user's live events (Server-Sent Events): state, calls, previews",
    description=(
        "A `text/event-stream` of the current user's events: `state` (their operator "
        "state after every committed change, and once at the start with `snapshot: true`; "
        "`wrap_up` means a wrap-up is pending: see `GET /api/v1/wrapups/pending`), "
        "`call` (their phone ringing / answered, the call ended, with the applicant's "
        "number) and `campaign_preview` (operator-mode campaigns: the registry entry the "
        "dialer offers this operator before dialling the applicant: campaign, applicant, "
        "phone, case number, service, office, ready date, note, attempt, category_hint). "
        "Numbers and names are masked without `calls:read_pii`. Reconnect with "
        "`Last-Event-ID` to get what was missed."
    ),
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "the event stream"},
        400: {"model": Problem},
    },
)
async def live_events(
    request: Request,
    principal: Annotated[Principal, Depends(StreamRequires(Scope.OPERATORS_STATE))],
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=64)] = None,
) -> StreamingResponse:
    if principal.user_id is None:
        raise HTTPException(
            400,
            "live events belong to a logged-in user: log in at /operator/login "
            "(API tokens have no live stream; use webhooks)",
        )
    hub: LiveHub = request.app.state.live
    book: OperatorBook = request.app.state.book
    user_id = principal.user_id
    subscriber, missed = hub.subscribe(user_id, last_event_id)
    try:
        view = await asyncio.to_thread(book.view, user_id)
    except BaseException:
        hub.unsubscribe(user_id, subscriber)
        raise
    first = list(missed)
    if view is not None:
        snapshot = {
            "state": view.state,
            "from_state": None,
            "reason": view.reason,
            "at": view.since.isoformat() if view.since else None,
            "snapshot": True,
        }
        first.append(LiveEvent(hub.last_id(user_id), "state", snapshot))
    return StreamingResponse(
        _stream(
            hub,
            principal,
            user_id,
            first,
            subscriber,
            heartbeat=HEARTBEAT_SECONDS,
            lifetime=STREAM_SECONDS,
        ),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
