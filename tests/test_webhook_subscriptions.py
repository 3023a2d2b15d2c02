"""Who an event is queued for: the subscriptions as read (and briefly kept) by the outbox."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import insert

from callagent.db.models import WebhookDelivery, WebhookSubscription
from callagent.db.session import make_engine, make_sessionmaker
from callagent.webhooks.outbox import ActiveSubscriptions, Event, enqueue_many

EVENT = Event(subject="s1", ordering_key="operator:1", data={"operator_id": 1})


def _subscription(events: list[str], *, active: bool = True) -> WebhookSubscription:
    return WebhookSubscription(
        url="https://crm.example/hooks",
        event_types=events,
        secret="x" * 32,
        active=active,
        created_at=datetime.now(UTC),
    )


def test_a_subscription_changed_in_this_process_applies_to_the_next_event(db_url: str) -> None:
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    try:
        with sessions.begin() as session:  # nobody subscribes yet: read and kept
            assert enqueue_many(session, event_type="operator.state_changed", events=[EVENT]) == 0
        with sessions.begin() as session:
            session.add(_subscription(["operator.state_changed"]))
            session.add(_subscription(["call.ended"]))
        with sessions.begin() as session:  # no waiting for the cache to age
            assert enqueue_many(session, event_type="operator.state_changed", events=[EVENT]) == 1
        with sessions.begin() as session:
            for row in session.query(WebhookSubscription):
                row.active = False
        with sessions.begin() as session:
            assert enqueue_many(session, event_type="operator.state_changed", events=[EVENT]) == 0
            assert session.query(WebhookDelivery).count() == 1
    finally:
        engine.dispose()


def test_a_subscription_made_by_another_process_is_seen_within_max_age(db_url: str) -> None:
    engine = make_engine(db_url)
    other = make_engine(db_url)  # another callagent process: no ORM events reach this one
    cache = ActiveSubscriptions(max_age=0.3)
    try:
        with engine.connect() as conn:
            assert cache.wanting(conn, "call.ended") == []
        with other.begin() as conn:
            new_id = conn.scalar(
                insert(WebhookSubscription)
                .values(
                    url="https://crm.example/hooks",
                    event_types=["call.ended"],
                    secret="x" * 32,
                    active=True,
                    created_at=datetime.now(UTC),
                )
                .returning(WebhookSubscription.id)
            )
        with engine.connect() as conn:
            assert cache.wanting(conn, "call.ended") == []  # kept: no round trip per event
        time.sleep(0.35)
        with engine.connect() as conn:
            assert cache.wanting(conn, "call.ended") == [new_id]
            assert cache.wanting(conn, "wrapup.submitted") == []
    finally:
        engine.dispose()
        other.dispose()
