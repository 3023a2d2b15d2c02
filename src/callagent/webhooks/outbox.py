"""Putting events in the outbox, in the caller's transaction.

Nothing is lost when callagent stops right after a change: the event row is
committed with the change, and the worker delivers it whenever it runs.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callagent.db.models import WebhookDelivery, WebhookSubscription

EVENT_TYPES = (
    "call.ended",
    "wrapup.submitted",
    "operator.state_changed",
    "notification.result",
    "question.answered",
)
_NAMESPACE = uuid.UUID("6f1d0c1e-8a4b-4c39-9a43-2b4f6b0c5a11")


def event_id(event_type: str, subject: str) -> str:
    """A stable id for an event about ``subject``: the same change never gets two ids."""
    return str(uuid.uuid5(_NAMESPACE, f"{event_type}:{subject}"))


def subscribers(session: Session, event_type: str) -> list[WebhookSubscription]:
    """Active subscriptions that want ``event_type``."""
    rows = session.scalars(select(WebhookSubscription).where(WebhookSubscription.active.is_(True)))
    return [row for row in rows if event_type in row.event_types]


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
    if targets is None:
        targets = subscribers(session, event_type)
    if not targets:
        return 0
    stamp = datetime.now(UTC)
    identifier = event_id(event_type, subject)
    body = {
        "id": identifier,
        "type": event_type,
        "occurred_at": stamp.isoformat(),
        "data": data,
    }
    for target in targets:
        session.add(
            WebhookDelivery(
                subscription_id=target.id,
                event_id=identifier,
                event_type=event_type,
                ordering_key=ordering_key,
                payload=body,
                status="pending",
                attempts=0,
                next_attempt_at=stamp,
                locked_until=None,
                last_error="",
                created_at=stamp,
                delivered_at=None,
            )
        )
    return len(targets)
