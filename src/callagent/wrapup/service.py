"""Pending wrap-ups, submit, corrections with history, deadlines, missed, extend.

A wrap-up is opened (``pending``) in the transaction that puts an operator into
after-call work (the OperatorBook's ``wrapup_hook``). Submitting it frees the
operator at once, in the same transaction; when the deadline passes first the
book's sweep makes the operator ready and :func:`mark_missed` marks the wrap-up
``missed`` (still fillable, and counted). The call record may not be written yet
when the wrap-up opens (the writer is batched): the wrap-up keeps the call's key
("node:linkedid") and finds ``calls.id`` when it is read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from callagent.db.models import Call, User
from callagent.db.wrapup_models import Question, Wrapup, WrapupChange
from callagent.errors import ServiceError
from callagent.questions.service import change_status, create_question, iso
from callagent.routing.operators import OperatorBook, utcnow
from callagent.routing.states import OperatorState, Signal
from callagent.webhooks.outbox import enqueue
from callagent.wrapup.forms import Category, FieldError, Forms, validate

log = logging.getLogger(__name__)

OPEN_STATUSES = ("pending", "missed")
# Channel variables of calls placed by a notification campaign (the dialer sets one).
_NOTIFICATION_MARKERS = ("CAMPAIGN", "NOTIFY", "DOCUMENT")


class WrapupError(ServiceError):
    """A wrap-up request that cannot be done; ``status`` is the HTTP status."""


class InvalidForm(Exception):
    """A submission that does not fit its form: every error at once."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(f"{len(errors)} error(s) in the wrap-up form")
        self.errors = errors


@dataclass(frozen=True)
class Actor:
    """Who changes a wrap-up: a user (id) or a token (``actor`` only)."""

    actor: str
    user_id: int | None = None


# Called after a submit or correction, in its transaction (e.g. campaigns writing a
# notification result back to their registry).
SubmitListener = Callable[[Session, Wrapup], None]


def split_key(call_key: str) -> tuple[str, str] | None:
    """``"pbx1:1795353447.0"`` -> ``("pbx1", "1795353447.0")`` (node names have no colon)."""
    node, sep, linkedid = call_key.partition(":")
    return (node, linkedid) if sep and node and linkedid else None


def call_by_key(session: Session, call_key: str | None) -> Call | None:
    """The call record with this key, if written yet."""
    parts = split_key(call_key) if call_key else None
    if parts is None:
        return None
    return session.scalar(select(Call).where(Call.node == parts[0], Call.linkedid == parts[1]))


def hint_for_call(call: Call | None) -> str | None:
    """The category a call suggests before the operator picks one."""
    if call is None or call.direction != "outbound":
        return None
    names = " ".join(call.variables or {}).upper()
    if any(marker in names for marker in _NOTIFICATION_MARKERS):
        return "document_notification"
    return None


@dataclass
class WrapupService:
    """The wrap-up side of the service: forms, deadlines, the operator book."""

    sessions: sessionmaker[Session]
    forms: Forms
    default_seconds: float = 60.0
    extend_seconds: float = 60.0
    book: OperatorBook | None = None
    listeners: list[SubmitListener] = field(default_factory=list)

    # ------------------------------------------------------------------ opening

    def hook(
        self, session: Session, user: User, call_key: str | None, now: datetime
    ) -> datetime | None:
        """The OperatorBook's wrap-up hook: open the form, return its deadline."""
        if call_key is None:
            return None  # nothing to tag: the book's default after-call time applies
        wrapup = open_wrapup(
            session,
            operator_id=user.id,
            call_key=call_key,
            now=now,
            forms=self.forms,
            default_seconds=self.default_seconds,
        )
        return wrapup.deadline

    def sweep(self, now: datetime | None = None) -> int:
        """Mark wrap-ups whose deadline passed as missed; how many."""
        with self.sessions.begin() as session:
            return mark_missed(session, now=now or utcnow())

    async def run(self, interval: float = 1.0, report_every: float = 60.0) -> None:
        """Mark missed wrap-ups once a second, forever (until cancelled); say how many at
        INFO at most once per ``report_every`` seconds (:class:`MissedReport`)."""
        report = MissedReport(report_every)
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval)
            try:
                missed = await asyncio.to_thread(self.sweep)
            except Exception as exc:  # the database may be away for a while
                log.warning("wrap-up sweep failed: %s", type(exc).__name__)
                continue
            report.add(missed, now=loop.time())


@dataclass
class MissedReport:
    """The missed wrap-ups, told at INFO at most once per ``every`` seconds.

    A sweep runs every second and a busy office (or the demo) misses one wrap-up every
    few seconds: a line per sweep filled the log (104 in 18 minutes). The first miss is
    told at once; the ones after it are added up until ``every`` seconds have passed.
    """

    every: float
    count: int = 0
    _last: float | None = None

    def add(self, missed: int, *, now: float) -> None:
        """Count ``missed`` more; log the sum if the last line is old enough."""
        self.count += missed
        if not self.count or (self._last is not None and now - self._last < self.every):
            return
        log.info("%d wrap-up(s) missed their deadline", self.count)
        self.count, self._last = 0, now


def open_wrapup(
    session: Session,
    *,
    operator_id: int,
    call_key: str,
    now: datetime,
    forms: Forms,
    default_seconds: float,
) -> Wrapup:
    """The pending wrap-up of ``call_key`` for an operator (created once)."""
    existing = session.scalar(
        select(Wrapup).where(Wrapup.operator_id == operator_id, Wrapup.call_key == call_key)
    )
    if existing is not None:
        return existing
    call = call_by_key(session, call_key)
    question_id = session.scalar(
        select(Question.id).where(Question.callback_call_key == call_key).limit(1)
    )
    hint = "repeat_consultation" if question_id is not None else hint_for_call(call)
    category = forms.category(hint) if hint else None
    if hint is not None and category is None:
        hint = None  # the configured forms have no such category
    seconds = category.deadline_seconds if category is not None else default_seconds
    wrapup = Wrapup(
        call_id=call.id if call is not None else None,
        call_key=call_key,
        operator_id=operator_id,
        status="pending",
        category=None,
        category_hint=hint,
        fields={},
        started_at=now,
        deadline=now + timedelta(seconds=seconds),
        extended=False,
        missed_at=None,
        submitted_at=None,
        submitted_by=None,
        revision=0,
        question_id=question_id,
        updated_at=now,
    )
    session.add(wrapup)
    session.flush()
    return wrapup


def mark_missed(session: Session, *, now: datetime) -> int:
    """Pending wrap-ups past their deadline become ``missed`` (missed at the deadline)."""
    result = session.execute(
        update(Wrapup)
        .where(Wrapup.status == "pending", Wrapup.deadline <= now)
        .values(status="missed", missed_at=Wrapup.deadline, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    count = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if count:  # the service's MissedReport says it at INFO, once a minute at most
        log.debug("%d wrap-up(s) missed their deadline", count)
    return count


def resolve_calls(session: Session, wrapups: Iterable[Wrapup]) -> dict[int, Call]:
    """Fill in ``call_id`` (and the hint) of wrap-ups whose record exists now; id -> call.

    Two queries for any number of wrap-ups (lists show up to 500): by id, then by key.
    """
    rows = list(wrapups)
    ids = {w.call_id for w in rows if w.call_id is not None}
    by_id = {c.id: c for c in session.scalars(select(Call).where(Call.id.in_(ids)))} if ids else {}
    keys = {
        w.call_key: parts
        for w in rows
        if w.call_key and by_id.get(w.call_id or 0) is None
        if (parts := split_key(w.call_key)) is not None
    }
    by_key: dict[str | None, Call] = {}
    if keys:
        # both columns, so that the (node, linkedid) unique index serves the lookup
        nodes = {node for node, _ in keys.values()}
        linkedids = {linkedid for _, linkedid in keys.values()}
        query = select(Call).where(Call.node.in_(nodes), Call.linkedid.in_(linkedids))
        found = {(c.node, c.linkedid): c for c in session.scalars(query)}
        by_key = {key: found[parts] for key, parts in keys.items() if parts in found}
    calls: dict[int, Call] = {}
    for wrapup in rows:
        call = by_id.get(wrapup.call_id or 0)
        if call is None:
            call = by_key.get(wrapup.call_key)
            if call is not None:
                wrapup.call_id = call.id
                if wrapup.category_hint is None and wrapup.question_id is None:
                    wrapup.category_hint = hint_for_call(call)
        if call is not None:
            calls[wrapup.id] = call
    return calls


def open_status(wrapup: Wrapup, now: datetime) -> str:
    """``missed`` as soon as the deadline passed, even before the sweep has written it."""
    if wrapup.status == "pending" and wrapup.deadline <= now:
        return "missed"
    return wrapup.status


def pending_for(session: Session, *, operator_id: int) -> list[Wrapup]:
    """An operator's open wrap-ups (pending first, then missed; oldest first).

    Reads only: the page asks often, and a write per read would queue behind the
    routing's writes on SQLite.
    """
    rows = session.scalars(
        select(Wrapup)
        .where(Wrapup.operator_id == operator_id, Wrapup.status.in_(OPEN_STATUSES))
        .order_by(Wrapup.status.desc(), Wrapup.started_at, Wrapup.id)
    ).all()
    return list(rows)


def histories(session: Session, ids: Iterable[int]) -> dict[int, list[WrapupChange]]:
    """The history of several wrap-ups in one query: wrap-up id -> changes, oldest first."""
    found: dict[int, list[WrapupChange]] = {wrapup_id: [] for wrapup_id in ids}
    if found:
        rows = session.scalars(
            select(WrapupChange)
            .where(WrapupChange.wrapup_id.in_(list(found)))
            .order_by(WrapupChange.id)
        ).all()
        for row in rows:
            found[row.wrapup_id].append(row)
    return found


def wrapup_payload(
    session: Session, wrapup: Wrapup, history: list[WrapupChange] | None = None
) -> dict[str, Any]:
    """A wrap-up as the API and the ``wrapup.submitted`` webhook show it."""
    if history is None:
        history = histories(session, [wrapup.id])[wrapup.id]
    return {
        "id": wrapup.id,
        "call_id": wrapup.call_id,
        "call_key": wrapup.call_key,
        "operator_id": wrapup.operator_id,
        "category": wrapup.category,
        "category_hint": wrapup.category_hint,
        "fields": dict(wrapup.fields or {}),
        "status": wrapup.status,
        "started_at": iso(wrapup.started_at),
        "deadline": iso(wrapup.deadline),
        "extended": wrapup.extended,
        "missed": wrapup.missed_at is not None,
        "missed_at": iso(wrapup.missed_at),
        "submitted_at": iso(wrapup.submitted_at),
        "submitted_by": wrapup.submitted_by,
        "revision": wrapup.revision,
        "question_id": wrapup.question_id,
        "history": [
            {
                "at": iso(change.at),
                "action": change.action,
                "by_user_id": change.by_user_id,
                "by": change.by_actor,
                "old_category": change.old_category,
                "old_fields": change.old_fields,
                "new_category": change.new_category,
                "new_fields": change.new_fields,
            }
            for change in history
        ],
    }


# ------------------------------------------------------------------- submitting


def _check(forms: Forms, category_id: Any, values: Any) -> tuple[Category, dict[str, Any]]:
    category, cleaned, errors = validate(forms, category_id, values)
    if errors or category is None:
        raise InvalidForm(errors)
    return category, cleaned


_Form = tuple[str | None, dict[str, Any] | None]


def _record(
    session: Session,
    wrapup: Wrapup,
    action: str,
    actor: Actor,
    now: datetime,
    *,
    old: _Form = (None, None),
    new: _Form = (None, None),
) -> None:
    """One row of a wrap-up's history: who did what, and the (category, fields) before/after."""
    session.add(
        WrapupChange(
            wrapup_id=wrapup.id,
            at=now,
            action=action,
            by_user_id=actor.user_id,
            by_actor=actor.actor,
            old_category=old[0],
            old_fields=old[1],
            new_category=new[0],
            new_fields=new[1],
        )
    )


def _free_operator(
    session: Session, book: OperatorBook | None, wrapup: Wrapup, now: datetime
) -> None:
    """After-call work is over: ready now, unless another call's wrap-up is still due."""
    user = session.get(User, wrapup.operator_id)
    if user is None or user.state != OperatorState.WRAP_UP.value:
        return
    others = session.scalar(
        select(Wrapup.id)
        .where(
            Wrapup.operator_id == wrapup.operator_id,
            Wrapup.id != wrapup.id,
            Wrapup.status == "pending",
            Wrapup.deadline > now,
        )
        .limit(1)
    )
    if others is not None:
        return
    if book is not None:
        book.apply(session, user, Signal.WRAPUP_DONE, cause="wrapup", call=wrapup.call_key, now=now)


def _notify(session: Session, wrapup: Wrapup) -> None:
    parts = split_key(wrapup.call_key) if wrapup.call_key else None
    enqueue(
        session,
        event_type="wrapup.submitted",
        subject=f"wrapup:{wrapup.id}:{wrapup.revision}",
        ordering_key=f"call:{parts[0]}:{parts[1]}" if parts else f"wrapup:{wrapup.id}",
        data=wrapup_payload(session, wrapup),
    )


def _open_question(
    session: Session, wrapup: Wrapup, category: Category, values: dict[str, Any], now: datetime
) -> None:
    """A question category's submit registers the question (once per wrap-up)."""
    if not category.question:
        return
    if session.scalar(select(Question.id).where(Question.wrapup_id == wrapup.id)) is not None:
        return
    call = session.get(Call, wrapup.call_id) if wrapup.call_id is not None else None
    channel = str(values["answer_channel"])
    contact = str(
        values.get("contact_phone") or values.get("contact_email") or values.get("contact") or ""
    )
    phone = str(values.get("applicant_phone") or (call.applicant_number if call else "") or "")
    if not contact and channel != "email":
        contact = phone
    preferred = values.get("preferred_time")
    create_question(
        session,
        text=str(values["question"]),
        answer_channel=channel,
        now=now,
        applicant_name=str(values.get("applicant_name") or ""),
        applicant_phone=phone,
        contact=contact,
        preferred_time=datetime.fromisoformat(preferred) if preferred else None,
        operator_id=wrapup.operator_id,
        call_id=wrapup.call_id,
        call_key=wrapup.call_key,
        wrapup_id=wrapup.id,
    )


def _callback_done(
    session: Session, wrapup: Wrapup, values: dict[str, Any], actor: Actor, now: datetime
) -> None:
    """The wrap-up of a question's call back: 'answer given' informs the applicant."""
    if wrapup.question_id is None or values.get("result") != "answered":
        return
    question = session.get(Question, wrapup.question_id)
    if question is not None and question.status == "answered":
        change_status(session, question=question, to="informed", now=now, by_user_id=actor.user_id)


def submit(
    session: Session,
    *,
    wrapup: Wrapup,
    category_id: Any,
    values: Any,
    actor: Actor,
    forms: Forms,
    book: OperatorBook | None,
    now: datetime,
    listeners: Iterable[SubmitListener] = (),
) -> bool:
    """Store the filled form and free the operator; False when it was already stored so.

    A second submit of the same values is a no-op; of other values, a 409 (correct it).
    """
    category, cleaned = _check(forms, category_id, values)
    # Claimed by one conditional UPDATE: of two submits racing (a double click), one
    # stores the form and the other finds it stored.
    claimed = session.execute(
        update(Wrapup)
        .where(Wrapup.id == wrapup.id, Wrapup.status.in_(OPEN_STATUSES))
        .values(status="submitted", updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(wrapup)
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        if wrapup.category == category.id and wrapup.fields == cleaned:
            return False
        raise WrapupError(
            409,
            f"wrap-up {wrapup.id} was already submitted with other values; "
            "correct it with PATCH instead",
            code="wrapup_submitted_differently",
            params={"wrapup": wrapup.id},
        )
    resolve_calls(session, [wrapup])
    if wrapup.missed_at is None and wrapup.deadline <= now:
        wrapup.missed_at = wrapup.deadline  # late: counted as missed, as the sweep would
    wrapup.status = "submitted"
    wrapup.category = category.id
    wrapup.fields = cleaned
    wrapup.submitted_at = now
    wrapup.submitted_by = actor.user_id
    wrapup.revision = 1
    wrapup.updated_at = now
    _record(session, wrapup, "submitted", actor, now, new=(category.id, cleaned))
    session.flush()
    _open_question(session, wrapup, category, cleaned, now)
    _callback_done(session, wrapup, cleaned, actor, now)
    _free_operator(session, book, wrapup, now)
    _notify(session, wrapup)
    for listener in listeners:
        listener(session, wrapup)
    return True


def correct(
    session: Session,
    *,
    wrapup: Wrapup,
    category_id: Any,
    values: Any,
    actor: Actor,
    forms: Forms,
    now: datetime,
    listeners: Iterable[SubmitListener] = (),
) -> bool:
    """Change a submitted wrap-up, keeping the old values in its history; False: no change."""
    if wrapup.status != "submitted":
        raise WrapupError(409, f"wrap-up {wrapup.id} is not submitted yet: submit it first")
    category, cleaned = _check(forms, category_id, values)
    if wrapup.category == category.id and wrapup.fields == cleaned:
        return False
    _record(
        session,
        wrapup,
        "corrected",
        actor,
        now,
        old=(wrapup.category, dict(wrapup.fields or {})),
        new=(category.id, cleaned),
    )
    wrapup.category = category.id
    wrapup.fields = cleaned
    wrapup.revision += 1
    wrapup.updated_at = now
    session.flush()
    _open_question(session, wrapup, category, cleaned, now)
    _notify(session, wrapup)
    for listener in listeners:
        listener(session, wrapup)
    return True


def extend(
    session: Session, *, wrapup: Wrapup, seconds: float, actor: Actor, now: datetime
) -> datetime:
    """Move a pending wrap-up's deadline (and the operator's after-call time), once."""
    session.refresh(wrapup)
    status = open_status(wrapup, now)
    if status != "pending":
        raise WrapupError(
            409,
            f"wrap-up {wrapup.id} is {status}: only a pending one can be extended",
            code="wrapup_not_pending",
            params={"wrapup": wrapup.id, "status": status},
        )
    if wrapup.extended:
        raise WrapupError(
            409,
            f"wrap-up {wrapup.id} was already extended once",
            code="wrapup_extended_once",
            params={"wrapup": wrapup.id},
        )
    wrapup.deadline = wrapup.deadline + timedelta(seconds=seconds)
    wrapup.extended = True
    wrapup.updated_at = now
    _record(session, wrapup, "extended", actor, now)
    user = session.get(User, wrapup.operator_id)
    if user is not None and user.state == OperatorState.WRAP_UP.value:
        current = user.wrapup_until
        user.wrapup_until = wrapup.deadline if current is None else max(current, wrapup.deadline)
    return wrapup.deadline
