"""The complaints register's service on SQLite and PostgreSQL: the status rules and their
coded refusals, the history, the decision deadline, the daily overdue summary (its
webhook once per complaint a day) and the causes report."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from callagent.auth.scopes import Role
from callagent.auth.service import create_user
from callagent.complaints.deadline import DeadlineRule
from callagent.complaints.service import (
    Clock,
    ComplaintError,
    ComplaintFilter,
    assign,
    causes_report,
    change_status,
    edit_details,
    history,
    list_complaints,
    register,
    summary,
)
from callagent.db.models import WebhookDelivery, WebhookSubscription
from callagent.db.session import make_engine, make_sessionmaker
from callagent.webhooks.outbox import ACTIVE_SUBSCRIPTIONS

MOSCOW = ZoneInfo("Europe/Moscow")
CLOCK = Clock(DeadlineRule.parse("30 calendar days"), MOSCOW)
# Friday 4 December 2026, 15:00 in Moscow
FRIDAY = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as db:
        yield db
    engine.dispose()


def _users(db: Session) -> tuple[int, int]:
    operator = create_user(db, login="ivanova", role=Role.OPERATOR, password=None)
    lead = create_user(db, login="lead", role=Role.SUPERVISOR, password=None)
    db.flush()
    return operator.id, lead.id


def _complaint(db: Session, by: int, now: datetime = FRIDAY, **kw: str):  # type: ignore[no-untyped-def]
    values = {"subject": "Нагрубили в офисе", "cause": "staff", "channel": "phone"} | kw
    return register(db, clock=CLOCK, now=now, by_user_id=by, **values)


def _refused(code: str, action) -> ComplaintError:  # type: ignore[no-untyped-def]
    with pytest.raises(ComplaintError) as caught:
        action()
    assert caught.value.code == code, caught.value.detail
    return caught.value


def test_lifecycle_rules_and_history(session: Session) -> None:
    db = session
    operator, lead = _users(db)
    complaint = _complaint(db, operator, office="МФЦ Центральный", applicant_name="Сидоров П.")
    assert complaint.status == "registered" and complaint.owner_id is None
    # 30 calendar days from Friday 4 December: to the end of Sunday 3 January, Moscow time
    assert complaint.deadline_at == datetime(2027, 1, 3, 21, 0, tzinfo=UTC)
    step = FRIDAY + timedelta(hours=1)

    def move(to: str, **kw: str) -> None:
        change_status(db, complaint=complaint, to=to, now=step, by_user_id=lead, **kw)

    refused = _refused("complaint_transition", lambda: move("answered"))
    assert refused.status == 409
    assert refused.params == {"status": "registered", "target": "answered"}
    _refused("complaint_value_unknown", lambda: move("lost"))
    move("in_work")
    assert complaint.owner_id == lead  # taking it into work makes the taker its owner
    _refused("complaint_decision_needed", lambda: move("decided", decision="  "))
    move("decided", decision="Извиниться, провести беседу с сотрудником")
    _refused("complaint_answer_needed", lambda: move("answered", answer_channel="letter"))
    _refused("complaint_answer_channel_needed", lambda: move("answered", answer="Извините"))
    _refused(
        "complaint_value_unknown",
        lambda: move("answered", answer="Извините", answer_channel="pigeon"),
    )
    move("answered", answer="Приносим извинения", answer_channel="letter")
    assert complaint.answered_at == step and complaint.answer_channel == "letter"
    move("closed")
    assert complaint.closed_at == step
    _refused(
        "complaint_finished",
        lambda: edit_details(
            db, complaint=complaint, changes={"office": "x"}, now=step, by_user_id=lead
        ),
    )
    _refused(
        "complaint_finished",
        lambda: assign(db, complaint=complaint, owner_id=operator, now=step, by_user_id=lead),
    )
    _refused("complaint_note_needed", lambda: move("in_work"))
    move("in_work", note="заявитель не согласен с ответом")
    assert complaint.closed_at is None and complaint.status == "in_work"
    move("rejected", note="повторная жалоба, см. № 1")
    assert complaint.decision == "повторная жалоба, см. № 1"
    db.flush()
    steps = [
        (h.action, h.from_status, h.to_status, h.by_user_id) for h in history(db, complaint.id)
    ]
    assert steps == [
        ("registered", None, "registered", operator),
        ("status", "registered", "in_work", lead),
        ("status", "in_work", "decided", lead),
        ("status", "decided", "answered", lead),
        ("status", "answered", "closed", lead),
        ("status", "closed", "in_work", lead),
        ("status", "in_work", "rejected", lead),
    ]
    assert history(db, complaint.id)[5].note == "заявитель не согласен с ответом"
    # the refusals changed nothing: one history row per accepted step
    assert len(steps) == 7


def test_register_refuses_unknown_values_and_an_empty_subject(session: Session) -> None:
    operator, _ = _users(session)
    _refused("complaint_value_unknown", lambda: _complaint(session, operator, cause="weather"))
    _refused("complaint_value_unknown", lambda: _complaint(session, operator, channel="fax"))
    _refused("complaint_subject_needed", lambda: _complaint(session, operator, subject=" "))
    session.flush()
    assert list_complaints(session, ComplaintFilter())[0] == 0


def test_working_days_skip_weekends_and_holidays(session: Session) -> None:
    operator, _ = _users(session)
    rule = DeadlineRule.parse("3 working days", ["2026-12-08"])
    clock = Clock(rule, MOSCOW)
    complaint = register(
        session,
        clock=clock,
        subject="s",
        cause="office",
        channel="letter",
        now=FRIDAY,
        by_user_id=operator,
    )
    # Mon 7, (Tue 8 a holiday), Wed 9, Thu 10: the end of Thursday in Moscow
    assert complaint.deadline_at == datetime(2026, 12, 10, 21, 0, tzinfo=UTC)


def test_summary_reports_each_overdue_complaint_once_a_day(session: Session) -> None:
    db = session
    operator, lead = _users(db)
    db.add(
        WebhookSubscription(
            url="http://127.0.0.1:9/hook",
            event_types=["complaint.overdue"],
            secret="s" * 32,
            active=True,
            created_at=FRIDAY,
        )
    )
    db.flush()
    ACTIVE_SUBSCRIPTIONS.clear()
    late = _complaint(db, operator, now=FRIDAY - timedelta(days=40))
    soon = _complaint(db, operator, now=FRIDAY - timedelta(days=28))
    later = _complaint(db, operator, now=FRIDAY)
    decided_late = _complaint(db, operator, now=FRIDAY - timedelta(days=50))
    for to in ("in_work", "decided"):
        change_status(
            db, complaint=decided_late, to=to, now=FRIDAY, by_user_id=lead, decision="решено"
        )
    db.flush()
    first = summary(db, clock=CLOCK, now=FRIDAY, soon_days=3, report=True)
    assert [c.id for c in first.overdue] == [late.id]  # a decided complaint is not overdue
    assert [c.id for c in first.due_soon] == [soon.id]
    assert later.id not in [c.id for c in first.due_soon]
    assert first.reported == 1
    again = summary(db, clock=CLOCK, now=FRIDAY + timedelta(hours=2), soon_days=3, report=True)
    assert again.reported == 0  # the same day: not again
    looked = summary(db, clock=CLOCK, now=FRIDAY + timedelta(days=3), soon_days=3, report=False)
    assert looked.reported == 0 and len(looked.overdue) == 2  # "soon" is overdue by Monday
    next_day = summary(db, clock=CLOCK, now=FRIDAY + timedelta(days=3), soon_days=3, report=True)
    assert next_day.reported == 2
    db.flush()
    events = db.scalars(
        select(WebhookDelivery).where(WebhookDelivery.event_type == "complaint.overdue")
    ).all()
    assert len(events) == 3
    assert {e.payload["data"]["id"] for e in events} == {late.id, soon.id}
    assert len({e.event_id for e in events}) == 3


def test_causes_report_by_cause_office_and_period(session: Session) -> None:
    db = session
    operator, _ = _users(db)
    november = datetime(2026, 11, 30, 21, 30, tzinfo=UTC)  # 1 December in Moscow
    _complaint(db, operator, now=november, cause="waiting_time", office="МФЦ-1")
    _complaint(db, operator, now=FRIDAY, cause="waiting_time", office="МФЦ-1")
    _complaint(db, operator, now=FRIDAY, cause="staff", office="МФЦ-2")
    _complaint(db, operator, now=datetime(2026, 11, 15, tzinfo=UTC), cause="website")
    db.flush()
    rows = causes_report(
        db,
        start=datetime(2026, 11, 1, tzinfo=UTC),
        end=datetime(2027, 1, 1, tzinfo=UTC),
        zone=MOSCOW,
        period="month",
    )
    assert rows == [
        {"period": "2026-11", "cause": "website", "office": "", "count": 1},
        {"period": "2026-12", "cause": "waiting_time", "office": "МФЦ-1", "count": 2},
        {"period": "2026-12", "cause": "staff", "office": "МФЦ-2", "count": 1},
    ]
    weeks = causes_report(
        db,
        start=FRIDAY - timedelta(days=1),
        end=FRIDAY + timedelta(days=1),
        zone=MOSCOW,
        period="week",
    )
    assert [(r["period"], r["count"]) for r in weeks] == [("2026-11-30", 1), ("2026-11-30", 1)]
