"""Live page events across instances: PostgreSQL LISTEN/NOTIFY between the live hubs.

Each instance's :class:`~callagent.web.live.LiveHub` publishes what happened in that
process (an operator's committed state change, a call ringing on a phone of a node this
instance follows, a campaign preview). With several instances on one PostgreSQL, a page
may be connected to another instance than the one that saw the event: every event
published here is also sent with ``pg_notify`` on one channel, and every instance
LISTENs on a connection of its own and publishes what the others sent to its own pages.
PostgreSQL delivers a notification only after its transaction commits and to every
listening session, in the order sent; payloads stay under its 8,000-byte limit (an
event is a few hundred bytes; a larger one stays local, with a WARNING).

The payload carries the applicant's number and name unmasked, as the hub holds them: it
goes only over the database connection, is never logged, and each page's stream masks
it for users without ``calls:read_pii``, as for local events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from callagent.db.pg_notify import send_from_queue
from callagent.db.session import normalise_url
from callagent.web.live import LiveHub

log = logging.getLogger(__name__)

CHANNEL = "callagent_live"
MAX_PAYLOAD = 7900  # PostgreSQL refuses NOTIFY payloads of 8,000 bytes and more
RECONNECT_SECONDS = 1.0


def psycopg_dsn(database_url: str) -> str | None:
    """A libpq connection string for ``database_url``; None unless it is PostgreSQL."""
    url = make_url(normalise_url(database_url))
    if url.get_backend_name() != "postgresql":
        return None
    return str(url.set(drivername="postgresql").render_as_string(hide_password=False))


class LiveBridge:
    """Sends this hub's events to the other instances and publishes theirs here."""

    def __init__(self, hub: LiveHub, dsn: str) -> None:
        self.hub = hub
        self.dsn = dsn
        self.sent = 0
        self.received = 0
        self.too_large = 0
        self._outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=10_000)
        self._tasks: list[asyncio.Task[None]] = []
        self.listening = asyncio.Event()  # LISTEN is in place (tests wait for it)

    def start(self) -> None:
        """Hook into the hub and start the sending and listening loops (on the loop)."""
        self.hub.forward = self._forward
        self._tasks = [
            asyncio.create_task(self._send_loop()),
            asyncio.create_task(self._listen_loop()),
        ]

    async def stop(self) -> None:
        """Stop both loops."""
        self.hub.forward = None
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _forward(self, user_id: int, kind: str, data: dict[str, Any]) -> None:
        payload = json.dumps(
            {"origin": self.hub.boot, "user": user_id, "kind": kind, "data": data},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        if len(payload.encode()) > MAX_PAYLOAD:
            self.too_large += 1
            log.warning("a live %s event too large for NOTIFY stays on this instance", kind)
            return
        with contextlib.suppress(asyncio.QueueFull):  # the database is away: pages catch up
            self._outbox.put_nowait(payload)

    async def _send_loop(self) -> None:
        await send_from_queue(
            self.dsn,
            CHANNEL,
            self._outbox,
            what="live events",
            on_sent=self._count_sent,
            reconnect_seconds=RECONNECT_SECONDS,
        )

    def _count_sent(self) -> None:
        self.sent += 1

    async def _listen_loop(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    async for notify in conn.notifies():
                        self._receive(notify.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.listening.clear()
                log.warning(
                    "live events from other instances: %s; listening again", type(exc).__name__
                )
                await asyncio.sleep(RECONNECT_SECONDS)

    def _receive(self, payload: str) -> None:
        try:
            item = json.loads(payload)
            if item["origin"] == self.hub.boot:
                return  # our own event, already published here
            user_id, kind, data = int(item["user"]), str(item["kind"]), dict(item["data"])
        except (ValueError, KeyError, TypeError):
            log.warning("a live event from another instance could not be read; skipped")
            return
        self.received += 1
        self.hub.publish(user_id, kind, data, forward=False)
