"""Delivering the outbox: signed POSTs, in order per subject, retried with back-off.

A delivery that keeps failing is parked as ``failed`` after ``max_attempts`` and
can be sent again over the API. Rows are claimed with a conditional UPDATE, so
several callagent processes on one PostgreSQL never send the same row at once.
Receivers de-duplicate by the event id header: a crash between the POST and
the bookkeeping can repeat a delivery, never lose one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from callagent.db.models import WebhookDelivery, WebhookSubscription
from callagent.webhooks.signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
)

log = logging.getLogger(__name__)
_LOCK = timedelta(seconds=60)


@dataclass(frozen=True)
class _Job:
    delivery_id: int
    url: str
    secret: str
    event_type: str
    event_id: str
    payload: dict[str, Any]


class WebhookWorker:
    """Background task that empties the outbox."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        timeout: float = 5.0,
        max_attempts: int = 8,
        backoff_base: float = 2.0,
        backoff_cap: float = 600.0,
        poll_interval: float = 1.0,
    ) -> None:
        self.sessions = sessions
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.poll_interval = poll_interval
        self.delivered = 0
        self.failed_attempts = 0
        self._wake = asyncio.Event()

    def notify(self) -> None:
        """Something was added to the outbox: look now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Deliver forever (until cancelled)."""
        async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
            while True:
                try:
                    sent = await self.deliver_due(client)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("webhook outbox unavailable (%s); retrying", type(exc).__name__)
                    sent = 0
                if not sent:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def deliver_due(self, client: httpx.AsyncClient) -> int:
        """Send every delivery that is due now; return how many were tried."""
        jobs = await asyncio.to_thread(self._claim)
        if not jobs:
            return 0
        results = await asyncio.gather(*(self._post(client, job) for job in jobs))
        await asyncio.to_thread(self._record, list(zip(jobs, results, strict=True)))
        return len(jobs)

    def _claim(self) -> list[_Job]:
        stamp = datetime.now(UTC)
        with self.sessions.begin() as session:
            pending = session.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.status == "pending")
                .order_by(WebhookDelivery.id)
                .limit(1000)
            ).all()
            heads: dict[tuple[int, str], WebhookDelivery] = {}
            for row in pending:  # only the oldest pending event of each subject: in order
                heads.setdefault((row.subscription_id, row.ordering_key), row)
            jobs: list[_Job] = []
            for row in heads.values():
                if row.next_attempt_at > stamp:
                    continue
                if row.locked_until is not None and row.locked_until > stamp:
                    continue
                claimed = session.execute(
                    update(WebhookDelivery)
                    .where(
                        WebhookDelivery.id == row.id,
                        WebhookDelivery.status == "pending",
                        or_(
                            WebhookDelivery.locked_until.is_(None),
                            WebhookDelivery.locked_until <= stamp,
                        ),
                    )
                    .values(locked_until=stamp + _LOCK)
                    .execution_options(synchronize_session=False)
                )
                if claimed.rowcount != 1:  # type: ignore[attr-defined]
                    continue  # another process has it
                target = session.get(WebhookSubscription, row.subscription_id)
                if target is None or not target.active:
                    continue
                jobs.append(
                    _Job(
                        row.id, target.url, target.secret, row.event_type, row.event_id, row.payload
                    )
                )
            return jobs

    async def _post(self, client: httpx.AsyncClient, job: _Job) -> str | None:
        body = json.dumps(job.payload, ensure_ascii=False, separators=(",", ":")).encode()
        stamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            EVENT_HEADER: job.event_type,
            DELIVERY_HEADER: job.event_id,
            TIMESTAMP_HEADER: str(stamp),
            SIGNATURE_HEADER: sign(job.secret, stamp, body),
        }
        try:
            response = await client.post(job.url, content=body, headers=headers)
        except httpx.TimeoutException:
            return f"no answer within {self.timeout} s"
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"[:300]
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"

    def _record(self, outcomes: list[tuple[_Job, str | None]]) -> None:
        stamp = datetime.now(UTC)
        with self.sessions.begin() as session:
            for job, error in outcomes:
                row = session.get(WebhookDelivery, job.delivery_id)
                if row is None:
                    continue
                row.attempts += 1
                row.locked_until = None
                host = urlsplit(job.url).netloc
                if error is None:
                    row.status = "delivered"
                    row.delivered_at = stamp
                    row.last_error = ""
                    self.delivered += 1
                    continue
                self.failed_attempts += 1
                row.last_error = error
                if row.attempts >= self.max_attempts:
                    row.status = "failed"
                    log.warning(
                        "webhook %s to %s parked after %d attempts: %s",
                        job.event_type,
                        host,
                        row.attempts,
                        error,
                    )
                else:
                    delay = min(self.backoff_base * 2 ** (row.attempts - 1), self.backoff_cap)
                    row.next_attempt_at = stamp + timedelta(seconds=delay)
                    log.info(
                        "webhook %s to %s failed (%s); attempt %d in %.1f s",
                        job.event_type,
                        host,
                        error,
                        row.attempts + 1,
                        delay,
                    )
