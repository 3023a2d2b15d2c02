"""Putting events in the outbox, in the caller's transaction.

Nothing is lost when callagent stops right after a change: the event row is
committed with the change, and the worker delivers it whenever it runs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, insert, select
from sqlalchemy.orm import Session

from callagent.db.models import WebhookDelivery, WebhookSubscription

EVENT_TYPES = (
    "call.ended",
    "wrapup.submitted",
    "operator.state_changed",
    "notification.result",
    "question.answered",
)
_OUTBOX_TABLE = cast(Table, WebhookDelivery.__table__)
_SUBSCRIPTIONS = cast(Table, WebhookSubscription.__table__).c
_ACTIVE_SUBSCRIPTIONS = select(_SUBSCRIPTIONS.id, _SUBSCRIPTIONS.event_types).where(
    _SUBSCRIPTIONS.active.is_(True)
)
_NAMESPACE = uuid.UUID("6f1d0c1e-8a4b-4c39-9a43-2b4f6b0c5a11")


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
        target_ids = [
            sub_id
            for sub_id, wanted in conn.execute(_ACTIVE_SUBSCRIPTIONS)
            if event_type in (wanted or [])
        ]
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
