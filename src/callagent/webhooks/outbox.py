"""Putting events in the outbox, in the caller's transaction.

Nothing is lost when callagent stops right after a change: the event row is
committed with the change, and the worker delivers it whenever it runs.
"""

from __future__ import annotations

import time
import uuid
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, insert, select
from sqlalchemy import event as orm_event
from sqlalchemy.orm import Session

from callagent.db.models import WebhookDelivery, WebhookSubscription

EVENT_TYPES = (
    "call.ended",
    "wrapup.submitted",
    "operator.state_changed",
    "notification.result",
    "question.answered",
    "complaint.overdue",
)
_OUTBOX_TABLE = cast(Table, WebhookDelivery.__table__)
_SUBSCRIPTIONS = cast(Table, WebhookSubscription.__table__).c
_ACTIVE_SUBSCRIPTIONS = select(_SUBSCRIPTIONS.id, _SUBSCRIPTIONS.event_types).where(
    _SUBSCRIPTIONS.active.is_(True)
)
_NAMESPACE = uuid.UUID("6f1d0c1e-8a4b-4c39-9a43-2b4f6b0c5a11")


class ActiveSubscriptions:
    """Who subscribes to what, per database, read at most once a second.

    Events are queued on hot paths (every operator state change, in the routing
    claim's transaction): reading the subscriptions each time was one of its five
    round trips. A change made through this process (the API, any ORM flush of a
    subscription) clears the cache at once; one made by another callagent process
    on the same database is seen within ``max_age`` seconds. A subscription made
    inactive is never delivered to (the worker checks again before sending).
    """

    def __init__(self, max_age: float = 1.0) -> None:
        self.max_age = max_age
        self._read: weakref.WeakKeyDictionary[Engine, tuple[float, list[tuple[int, list[str]]]]]
        self._read = weakref.WeakKeyDictionary()

    def wanting(self, conn: Connection, event_type: str) -> list[int]:
        """Ids of the active subscriptions that want ``event_type``."""
        now = time.monotonic()
        cached = self._read.get(conn.engine)
        if cached is None or now - cached[0] >= self.max_age:
            rows = [
                (sub_id, list(wanted or []))
                for sub_id, wanted in conn.execute(_ACTIVE_SUBSCRIPTIONS)
            ]
            cached = (now, rows)
            self._read[conn.engine] = cached
        return [sub_id for sub_id, wanted in cached[1] if event_type in wanted]

    def clear(self) -> None:
        """Forget what was read (a subscription changed)."""
        self._read.clear()


ACTIVE_SUBSCRIPTIONS = ActiveSubscriptions()


@orm_event.listens_for(Session, "after_flush")
def _note_subscription_change(session: Session, *_: Any) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(row, WebhookSubscription) for row in changed):
        session.info["subscriptions_changed"] = True


@orm_event.listens_for(Session, "after_commit")
def _subscriptions_committed(session: Session) -> None:
    # After the commit, not at the flush: a read between the two would cache the old rows.
    if session.info.pop("subscriptions_changed", False):
        ACTIVE_SUBSCRIPTIONS.clear()


def event_id(event_type: str, subject: str) -> str:
    """A stable id for an event about ``subject``: the same change never gets two ids."""
    return str(uuid.uuid5(_NAMESPACE, f"{event_type}:{subject}"))


def subscribers(session: Session, event_type: str) -> list[WebhookSubscription]:
    """Active subscriptions that want ``event_type``."""
    rows = session.scalars(select(WebhookSubscription).where(WebhookSubscription.active.is_(True)))
    return [row for row in rows if event_type in row.event_types]


@dataclass(frozen=True)
class Event:
    """One event to report: what it is about, the order it belongs to, its data."""

    subject: str
    ordering_key: str
    data: dict[str, Any]


def enqueue(
    session: Session,
    *,
    event_type: str,
    subject: str,
    ordering_key: str,
    data: dict[str, Any],
    targets: list[WebhookSubscription] | None = None,
) -> int:
    """Add one event for every subscriber to the outbox; returns how many rows."""
    return enqueue_many(
        session, event_type=event_type, events=[Event(subject, ordering_key, data)], targets=targets
    )


def enqueue_many(
    db: Session | Connection,
    *,
    event_type: str,
    events: list[Event],
    targets: list[WebhookSubscription] | None = None,
) -> int:
    """Add several events of one type for every subscriber, in one statement; rows added."""
    if not events:
        return 0
    conn = db.connection() if isinstance(db, Session) else db
    if targets is None:
        target_ids = ACTIVE_SUBSCRIPTIONS.wanting(conn, event_type)
    else:
        target_ids = [target.id for target in targets]
    if not target_ids:
        return 0
    stamp = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for event in events:
        identifier = event_id(event_type, event.subject)
        body = {
            "id": identifier,
            "type": event_type,
            "occurred_at": stamp.isoformat(),
            "data": event.data,
        }
        rows.extend(
            {
                "subscription_id": target_id,
                "event_id": identifier,
                "event_type": event_type,
                "ordering_key": event.ordering_key,
                "payload": body,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": stamp,
                "locked_until": None,
                "last_error": "",
                "created_at": stamp,
                "delivered_at": None,
            }
            for target_id in target_ids
        )
    conn.execute(insert(_OUTBOX_TABLE), rows)
    return len(rows)
