"""PostgreSQL NOTIFY from a queue: the one sender the live bridge and shared routing use."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import psycopg

log = logging.getLogger(__name__)


async def send_from_queue(
    dsn: str,
    channel: str,
    outbox: asyncio.Queue[str],
    *,
    what: str,
    on_sent: Callable[[], None],
    reconnect_seconds: float = 1.0,
) -> None:
    """Send every payload put in ``outbox`` with ``pg_notify`` on ``channel``, over one
    autocommit connection kept open; when the database goes away, say so (``what`` names
    the traffic) and connect again after ``reconnect_seconds``. Runs until cancelled."""
    while True:
        payload = await outbox.get()
        try:
            async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                while True:
                    await conn.execute("SELECT pg_notify(%s, %s)", (channel, payload))
                    on_sent()
                    payload = await outbox.get()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("%s to other instances: %s; retrying", what, type(exc).__name__)
            await asyncio.sleep(reconnect_seconds)
