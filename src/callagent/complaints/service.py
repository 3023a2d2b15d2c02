"""The complaints register (seed 003 A/04, seed 001 §3.1.4): register, move on, assign,
watch the decision deadline, report the causes.

A complaint is registered by hand, through the API or from a call's wrap-up whose category
is ``complaint``; its decision deadline comes from the centre's rule
(:class:`~callagent.complaints.deadline.DeadlineRule`) in the centre's zone. Every change
leaves a history row (who, when, from which status to which, why). Keyword-only functions;
the caller owns the transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from callagent.complaints.deadline import DeadlineRule
from callagent.complaints.models import (
    ANSWER_CHANNELS,
    COMPLAINT_CAUSES,
    RECEIVED_CHANNELS,
    Complaint,
    ComplaintChange,
)
from callagent.db.models import Call
from callagent.db.wrapup_models import Wrapup
from callagent.errors import ServiceError
from callagent.reports.periods import bucket_of
from callagent.webhooks.outbox import enqueue

# Which status may follow which. Back to in_work from decided, answered, closed or
# rejected is a reopening and needs a note saying why.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "registered": ("in_work", "rejected"),
    "in_work": ("decided", "rejected"),
    "decided": ("answered", "in_work"),
    "answered": ("closed", "in_work"),
    "closed": ("in_work",),
    "rejected": ("in_work",),
}
# No decision yet: past its deadline such a complaint is overdue.
UNDECIDED = ("registered", "in_work")
FINISHED = ("closed", "rejected")
WRAPUP_CATEGORY = "complaint"  # the wrap-up form's category that registers a complaint
Period = Literal["day", "week", "month"]


class ComplaintError(ServiceError):
    """A change the register refuses; ``status`` is the HTTP status to answer with."""


@dataclass(frozen=True)
class Clock:
    """The centre's deadline rule and zone: what a registration needs to set the term."""

    rule: DeadlineRule
    zone: ZoneInfo

    @classmethod
    def of(cls, settings: Any) -> Clock:
        """From the settings (the rule was checked when they were read)."""
        rule = DeadlineRule.parse(settings.complaint_deadline, settings.complaint_holidays)
        return cls(rule, ZoneInfo(settings.timezone))

    def local_day(self, moment: datetime) -> date:
        """The centre's calendar day of ``moment``."""
        return moment.astimezone(self.zone).date()


def search_text(complaint: Complaint) -> str:
    """What the text search looks in, case-folded (alike on SQLite and PostgreSQL)."""
    parts = (complaint.subject, complaint.office, complaint.cause_other, complaint.decision or "")
    return "\n".join(parts).casefold()


def _check_value(value: str, known: tuple[str, ...], field: str) -> None:
    if value not in known:
        raise ComplaintError(
            422,
            f"{field} must be one of {', '.join(known)}, not {value!r}",
            code="complaint_value_unknown",
            params={"field": field},
        )


def _record(
    session: Session,
    complaint: Complaint,
    action: str,
    *,
    now: datetime,
    by_user_id: int | None,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str = "",
) -> None:
    session.add(
        ComplaintChange(
            complaint_id=complaint.id,
            at=now,
            action=action,
            by_user_id=by_user_id,
            from_status=from_status,
            to_status=to_status,
            owner_id=complaint.owner_id,
            note=note,
        )
    )


def register(
    session: Session,
    *,
    clock: Clock,
    subject: str,
    cause: str,
    channel: str,
    now: datetime,
    by_user_id: int | None,
    applicant_name: str = "",
    applicant_phone: str = "",
    office: str = "",
    cause_other: str = "",
    call_id: int | None = None,
    call_key: str | None = None,
    wrapup_id: int | None = None,
) -> Complaint:
    """Register a complaint (status ``registered``), its deadline by the centre's rule."""
    _check_value(cause, COMPLAINT_CAUSES, "cause")
    _check_value(channel, RECEIVED_CHANNELS, "channel")
    if not subject.strip():
        raise ComplaintError(422, "a complaint needs its subject", code="complaint_subject_needed")
    complaint = Complaint(
        applicant_name=applicant_name.strip(),
        applicant_phone=applicant_phone,
        subject=subject.strip(),
        office=office.strip(),
        cause=cause,
        cause_other=cause_other.strip() if cause == "other" else "",
        channel=channel,
        operator_id=by_user_id,
        owner_id=None,
        status="registered",
        registered_at=now,
        deadline_at=clock.rule.due(now, clock.zone),
        updated_at=now,
        decision=None,
        decided_at=None,
        answer=None,
        answer_channel=None,
        answered_at=None,
        closed_at=None,
        call_id=call_id,
        call_key=call_key,
        wrapup_id=wrapup_id,
        overdue_reported_on=None,
    )
    complaint.search_text = search_text(complaint)
    session.add(complaint)
    session.flush()
    _record(
        session, complaint, "registered", now=now, by_user_id=by_user_id, to_status="registered"
    )
    return complaint


def change_status(
    session: Session,
    *,
    complaint: Complaint,
    to: str,
    now: datetime,
    by_user_id: int | None,
    note: str = "",
    decision: str | None = None,
    answer: str | None = None,
    answer_channel: str | None = None,
) -> None:
    """Move a complaint on, enforcing the transitions and what each step needs.

    ``decided`` needs the decision, ``rejected`` the reason (``decision`` or ``note``),
    ``answered`` the answer and its channel, a reopening (back to ``in_work``) a note.
    Taking an unowned complaint into work makes the taker its owner.
    """
    before = complaint.status
    if to == before:
        return
    if to not in TRANSITIONS:
        raise ComplaintError(
            422,
            f"unknown status {to!r}; known: {', '.join(TRANSITIONS)}",
            code="complaint_value_unknown",
            params={"field": "status"},
        )
    if to not in TRANSITIONS[before]:
        allowed = ", ".join(TRANSITIONS[before])
        raise ComplaintError(  # statuses are values: a page names them in its language
            409,
            f"a complaint that is {before} cannot become {to}; allowed: {allowed}",
            code="complaint_transition",
            params={"status": before, "target": to},
        )
    note = note.strip()
    reopening = to == "in_work" and before != "registered"
    if reopening and not note:
        raise ComplaintError(
            422, "reopening a complaint needs a note saying why", code="complaint_note_needed"
        )
    if to in ("decided", "rejected"):
        text = (decision or "").strip() or (note if to == "rejected" else "")
        if not text:
            raise ComplaintError(
                422,
                f"a {to} complaint needs 'decision' (the decision or why it is rejected)",
                code="complaint_decision_needed",
            )
        complaint.decision = text
        complaint.decided_at = now
    if to == "answered":
        if not (answer or "").strip():
            raise ComplaintError(
                422,
                "an answered complaint needs 'answer' (what the applicant was told)",
                code="complaint_answer_needed",
            )
        if answer_channel is None:
            raise ComplaintError(
                422,
                f"an answered complaint needs 'answer_channel' ({', '.join(ANSWER_CHANNELS)})",
                code="complaint_answer_channel_needed",
            )
        _check_value(answer_channel, ANSWER_CHANNELS, "answer_channel")
        complaint.answer = (answer or "").strip()
        complaint.answer_channel = answer_channel
        complaint.answered_at = now
    if to in FINISHED:
        complaint.closed_at = now
    if to == "in_work":
        complaint.closed_at = None
        if complaint.owner_id is None:
            complaint.owner_id = by_user_id
    complaint.status = to
    complaint.updated_at = now
    complaint.search_text = search_text(complaint)
    _record(
        session,
        complaint,
        "status",
        now=now,
        by_user_id=by_user_id,
        from_status=before,
        to_status=to,
        note=note,
    )


def assign(
    session: Session,
    *,
    complaint: Complaint,
    owner_id: int | None,
    now: datetime,
    by_user_id: int | None,
    note: str = "",
) -> bool:
    """Give the complaint to ``owner_id`` (None: to nobody); True when it changed.

    Not once it is closed or rejected: nobody is to deal with it any more.
    """
    if complaint.owner_id == owner_id:
        return False
    if complaint.status in FINISHED:
        raise ComplaintError(
            409,
            f"a {complaint.status} complaint cannot be assigned; reopen it first",
            code="complaint_finished",
            params={"status": complaint.status},
        )
    complaint.owner_id = owner_id
    complaint.updated_at = now
    _record(session, complaint, "assigned", now=now, by_user_id=by_user_id, note=note.strip())
    return True


def edit_details(
    session: Session,
    *,
    complaint: Complaint,
    changes: dict[str, Any],
    now: datetime,
    by_user_id: int | None,
) -> bool:
    """Change the applicant, subject, office or cause (not once finished); True if changed."""
    changed = {k: v for k, v in changes.items() if getattr(complaint, k) != v}
    if not changed:
        return False
    if complaint.status in FINISHED:
        raise ComplaintError(
            409,
            f"a {complaint.status} complaint cannot be changed; reopen it first",
            code="complaint_finished",
            params={"status": complaint.status},
        )
    if "cause" in changed:
        _check_value(changed["cause"], COMPLAINT_CAUSES, "cause")
    if "channel" in changed:
        _check_value(changed["channel"], RECEIVED_CHANNELS, "channel")
    for name, value in changed.items():
        setattr(complaint, name, value)
    if complaint.cause != "other":
        complaint.cause_other = ""
    complaint.search_text = search_text(complaint)
    complaint.updated_at = now
    # which fields, never their values: the history is shown to everyone who sees the
    # complaint, masked or not
    fields = ", ".join(sorted(changed))
    _record(session, complaint, "edited", now=now, by_user_id=by_user_id, note=fields)
    return True


def history(session: Session, complaint_id: int) -> list[ComplaintChange]:
    """The complaint's history, oldest first."""
    return list(
        session.scalars(
            select(ComplaintChange)
            .where(ComplaintChange.complaint_id == complaint_id)
            .order_by(ComplaintChange.id)
        )
    )


# ------------------------------------------------------------------ from a wrap-up


def wrapup_listener(clock: Clock) -> Callable[[Session, Wrapup], None]:
    """A wrap-up listener (``WrapupService.listeners``): a submitted or corrected wrap-up of
    category ``complaint`` registers the complaint with its call linked, once per wrap-up."""

    def listener(session: Session, wrapup: Wrapup) -> None:
        if wrapup.category != WRAPUP_CATEGORY:
            return
        found = session.scalar(select(Complaint.id).where(Complaint.wrapup_id == wrapup.id))
        if found is not None:
            return
        values = dict(wrapup.fields or {})
        call = session.get(Call, wrapup.call_id) if wrapup.call_id is not None else None
        about = values.get("subject") or []
        about = [about] if isinstance(about, str) else list(about)
        # the first named cause; "other" only when it is the only one
        causes = [c for c in about if c in COMPLAINT_CAUSES and c != "other"] or ["other"]
        phone = str(values.get("contact_phone") or (call.applicant_number if call else "") or "")
        register(
            session,
            clock=clock,
            subject=str(values.get("text") or ""),
            cause=causes[0],
            channel="phone",
            now=wrapup.submitted_at or wrapup.updated_at,
            by_user_id=wrapup.operator_id,
            applicant_name=str(values.get("applicant_name") or ""),
            applicant_phone=phone,
            office=str(values.get("office") or values.get("service") or ""),
            call_id=wrapup.call_id,
            call_key=wrapup.call_key,
            wrapup_id=wrapup.id,
        )

    return listener


# ------------------------------------------------------------------ lists


@dataclass(frozen=True)
class ComplaintFilter:
    """What ``GET /api/v1/complaints`` filters on."""

    status: str | None = None
    owner_id: int | None = None  # only those owned by this user
    overdue_at: datetime | None = None  # undecided with the deadline before this moment
    due_soon: tuple[datetime, datetime] | None = None  # undecided, deadline in [from, to)
    registered: tuple[datetime, datetime] | None = None  # registered in [from, to)
    text: str | None = None
    cause: str | None = None
    office: str | None = None
    # whose complaints are listed: registered by or owned by one of these users; None:
    # everyone's. ``unowned`` adds those nobody owns yet (a supervisor's to hand out).
    circle: frozenset[int] | None = None
    unowned: bool = False


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filtered(query: Select[Any], f: ComplaintFilter) -> Select[Any]:
    if f.status:
        query = query.where(Complaint.status == f.status)
    if f.owner_id is not None:
        query = query.where(Complaint.owner_id == f.owner_id)
    if f.overdue_at is not None:
        query = query.where(Complaint.status.in_(UNDECIDED), Complaint.deadline_at <= f.overdue_at)
    if f.due_soon is not None:
        query = query.where(
            Complaint.status.in_(UNDECIDED),
            Complaint.deadline_at > f.due_soon[0],
            Complaint.deadline_at <= f.due_soon[1],
        )
    if f.registered is not None:
        query = query.where(
            Complaint.registered_at >= f.registered[0], Complaint.registered_at < f.registered[1]
        )
    if f.text:
        pattern = f"%{_like_escape(f.text.casefold())}%"
        query = query.where(Complaint.search_text.like(pattern, escape="\\"))
    if f.cause:
        query = query.where(Complaint.cause == f.cause)
    if f.office:
        query = query.where(Complaint.office == f.office)
    if f.circle is not None:
        mine = [
            Complaint.operator_id.in_(sorted(f.circle)),
            Complaint.owner_id.in_(sorted(f.circle)),
        ]
        if f.unowned:
            mine.append(Complaint.owner_id.is_(None))
        query = query.where(or_(*mine))
    return query


def list_complaints(
    session: Session, f: ComplaintFilter, *, limit: int = 50, offset: int = 0
) -> tuple[int, list[Complaint]]:
    """(total matching, one page): the undecided first by deadline, then the newest."""
    total = session.scalar(_filtered(select(func.count()).select_from(Complaint), f)) or 0
    undecided_first = Complaint.status.in_(UNDECIDED).desc()
    rows = session.scalars(
        _filtered(select(Complaint), f)
        .order_by(undecided_first, Complaint.deadline_at.asc(), Complaint.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return int(total), list(rows)


def soon_until(now: datetime, days: int) -> datetime:
    """Until when a deadline counts as due soon: ``days`` days from ``now``."""
    return now + timedelta(days=days)


# ------------------------------------------------------------------ the daily summary


@dataclass(frozen=True)
class Summary:
    """The undecided complaints past their deadline and those due soon; events sent."""

    overdue: list[Complaint]
    due_soon: list[Complaint]
    reported: int  # complaint.overdue events queued by this run


def summary(
    session: Session, *, clock: Clock, now: datetime, soon_days: int, report: bool
) -> Summary:
    """The overdue and due-soon lists; with ``report``, a ``complaint.overdue`` event for
    each overdue complaint not yet reported on the centre's day (once per complaint a day,
    however often cron runs it)."""
    _, overdue = list_complaints(session, ComplaintFilter(overdue_at=now), limit=100_000)
    _, soon = list_complaints(
        session, ComplaintFilter(due_soon=(now, soon_until(now, soon_days))), limit=100_000
    )
    reported = 0
    if report:
        today = clock.local_day(now)
        for complaint in overdue:
            if complaint.overdue_reported_on == today:
                continue
            complaint.overdue_reported_on = today
            enqueue(
                session,
                event_type="complaint.overdue",
                subject=f"complaint:{complaint.id}:overdue:{today.isoformat()}",
                ordering_key=f"complaint:{complaint.id}",
                data=complaint_payload(complaint),
            )
            reported += 1
    return Summary(overdue, soon, reported)


# ------------------------------------------------------------------ causes report


def causes_report(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    period: Period,
    circle: frozenset[int] | None = None,
    unowned: bool = False,
) -> list[dict[str, Any]]:
    """How many complaints of each cause about each office were registered in each period
    of [start, end): rows (period, cause, office, count), by period, then most first. A
    period is named as the reports name it: 2026-12-04, the week's Monday, 2026-12."""
    f = ComplaintFilter(registered=(start, end), circle=circle, unowned=unowned)
    columns = select(Complaint.registered_at, Complaint.cause, Complaint.office)
    query = _filtered(cast("Select[Any]", columns), f)
    counts: Counter[tuple[str, str, str]] = Counter(
        (bucket_of(at, period, zone).key, cause, office)
        for at, cause, office in session.execute(query)
    )
    ordered = sorted(counts.items(), key=lambda item: (item[0][0], -item[1], item[0][1:]))
    return [{"period": key[0], "cause": key[1], "office": key[2], "count": n} for key, n in ordered]


# ------------------------------------------------------------------ payloads


def iso(value: datetime | None) -> str | None:
    """A stored time as ISO 8601 in UTC (as the API and webhooks show times), or None."""
    return None if value is None else value.astimezone(UTC).isoformat()


def complaint_payload(complaint: Complaint) -> dict[str, Any]:
    """A complaint as the API and the ``complaint.overdue`` webhook show it."""
    return {
        "id": complaint.id,
        "applicant_name": complaint.applicant_name,
        "applicant_phone": complaint.applicant_phone,
        "subject": complaint.subject,
        "office": complaint.office,
        "cause": complaint.cause,
        "cause_other": complaint.cause_other,
        "channel": complaint.channel,
        "operator_id": complaint.operator_id,
        "owner_id": complaint.owner_id,
        "status": complaint.status,
        "registered_at": iso(complaint.registered_at),
        "deadline_at": iso(complaint.deadline_at),
        "updated_at": iso(complaint.updated_at),
        "decision": complaint.decision,
        "decided_at": iso(complaint.decided_at),
        "answer": complaint.answer,
        "answer_channel": complaint.answer_channel,
        "answered_at": iso(complaint.answered_at),
        "closed_at": iso(complaint.closed_at),
        "call_id": complaint.call_id,
        "call_key": complaint.call_key,
        "wrapup_id": complaint.wrapup_id,
    }


def history_payload(rows: Iterable[ComplaintChange]) -> list[dict[str, Any]]:
    """History rows as the API shows them (staff ids, statuses, notes: no applicant data)."""
    return [
        {
            "at": iso(row.at),
            "action": row.action,
            "by_user_id": row.by_user_id,
            "from_status": row.from_status,
            "to_status": row.to_status,
            "owner_id": row.owner_id,
            "note": row.note,
        }
        for row in rows
    ]
