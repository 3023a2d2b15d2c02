"""Call-backs in the database: accept a request, keep the statuses true, list, reassign,
lease due tasks to the dialer, store attempts, close with the wrap-up, the KPI.

The rules live in :mod:`callagent.callbacks.schedule` (pure); this module reads and
writes rows in the caller's session and never commits (the caller's transaction).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select, true, update
from sqlalchemy.orm import Session

from callagent.callbacks.models import (
    OPEN_STATUSES,
    TASK_STATUSES,
    CallbackRequest,
    CallbackTask,
)
from callagent.callbacks.schedule import NOT_COUNTED, after_attempt, next_due, status_at
from callagent.campaigns.window import CallingWindow, number_zone
from callagent.config import Settings
from callagent.db.models import Call
from callagent.db.wrapup_models import Wrapup
from callagent.errors import ServiceError
from callagent.wrapup.service import call_by_key

# The channel variable naming the task on its call (set by the Originate).
TASK_VARIABLE = "CALLAGENT_CALLBACK_ID"


def utcnow() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Policy:
    """The settings a call-back is scheduled and retried by."""

    hours: CallingWindow
    centre: ZoneInfo
    max_attempts: int
    retry_seconds: float

    @classmethod
    def of(cls, settings: Settings) -> Policy:
        """From ``CALLAGENT_CALLBACK_*`` and ``CALLAGENT_TIMEZONE``."""
        return cls(
            hours=CallingWindow.parse(settings.callback_hours),
            centre=ZoneInfo(settings.timezone),
            max_attempts=settings.callback_max_attempts,
            retry_seconds=float(settings.callback_retry_seconds),
        )


def submit(
    session: Session,
    *,
    policy: Policy,
    name: str,
    phone: str,
    topic: str,
    window_from: datetime,
    window_to: datetime,
    language: str,
    now: datetime,
) -> CallbackTask | None:
    """Store the request and its task; None when the number already has an open call-back
    (the applicant is called once: the second request is dropped, silently: the public
    answer is the same whichever happened)."""
    open_one = session.scalar(
        select(CallbackTask.id)
        .join(CallbackRequest, CallbackRequest.id == CallbackTask.request_id)
        .where(CallbackRequest.phone == phone, CallbackTask.status.in_(OPEN_STATUSES))
        .limit(1)
    )
    if open_one is not None:
        return None
    request = CallbackRequest(
        name=name,
        phone=phone,
        phone_zone=number_zone(phone),
        topic=topic,
        window_from=window_from,
        window_to=window_to,
        consent_at=now,
        language=language,
        created_at=now,
    )
    session.add(request)
    session.flush()
    due = next_due(
        window_from=window_from,
        window_to=window_to,
        not_before=now,
        hours=policy.hours,
        centre=policy.centre,
    )
    task = CallbackTask(
        request_id=request.id,
        status=status_at(due, window_to, now),
        due_at=due,
        window_to=window_to,
        attempts=0,
        max_attempts=policy.max_attempts,
        last_result="",
        action_id="",
        channel_id="",
        lease_owner="",
        history=[],
        note="",
        created_at=now,
        updated_at=now,
    )
    session.add(task)
    session.flush()
    return task


def refresh_statuses(session: Session, now: datetime) -> None:
    """waiting -> due when due_at came; waiting/due -> overdue when the window passed."""
    session.execute(
        update(CallbackTask)
        .where(
            CallbackTask.status.in_(("waiting", "due")),
            or_(CallbackTask.window_to <= now, CallbackTask.due_at.is_(None)),
        )
        .values(status="overdue", updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(CallbackTask)
        .where(CallbackTask.status == "waiting", CallbackTask.due_at <= now)
        .values(status="due", updated_at=now)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class Leased:
    """A due task the dialer took: what it needs to place the call."""

    task_id: int
    phone: str
    name: str
    topic: str
    operator_id: int | None  # the assigned operator (None: anyone free)
    attempt: int  # this attempt's number (1 = first call)
    requested_at: datetime
    serial: int  # changes with every finished attempt or reassignment: a fresh ChannelId
    # what the operator's page previews: the applicant's window and the attempts allowed
    window_from: datetime | None = None
    window_to: datetime | None = None
    max_attempts: int = 0


def lease_due(
    session: Session,
    *,
    policy: Policy,
    owner: str,
    now: datetime,
    limit: int,
    lease_seconds: float,
    on_line: frozenset[int] = frozenset(),
) -> list[Leased]:
    """Take up to ``limit`` due tasks (oldest request first) for this dialer.

    A task found outside the centre's hours now (nobody was free until they closed) is
    moved to its next moment instead. The lease is a conditional UPDATE: two dialers never
    take one task. A task left on the line by a run that went away (its lease expired,
    not in ``on_line``) is settled first as ``timeout``: due again, no attempt counted.
    """
    orphans = session.scalars(
        select(CallbackTask).where(
            CallbackTask.status == "calling",
            CallbackTask.lease_until <= now,
            CallbackTask.id.not_in(on_line) if on_line else CallbackTask.id.is_not(None),
        )
    ).all()
    for orphan in orphans:
        finish_attempt(
            session, task_id=orphan.id, policy=policy, result="timeout", node="", now=now
        )
    refresh_statuses(session, now)
    rows = session.execute(
        select(CallbackTask, CallbackRequest)
        .join(CallbackRequest, CallbackRequest.id == CallbackTask.request_id)
        .where(
            CallbackTask.status == "due",
            or_(CallbackTask.lease_until.is_(None), CallbackTask.lease_until <= now),
        )
        .order_by(CallbackTask.created_at, CallbackTask.id)
        .limit(limit)
    ).all()
    leased: list[Leased] = []
    for task, request in rows:
        due = next_due(
            window_from=request.window_from,
            window_to=request.window_to,
            not_before=now,
            hours=policy.hours,
            centre=policy.centre,
        )
        if due is None or due > now:
            task.due_at = due
            task.status = status_at(due, request.window_to, now)
            task.updated_at = now
            continue
        taken = session.execute(
            update(CallbackTask)
            .where(
                CallbackTask.id == task.id,
                CallbackTask.status == "due",
                or_(CallbackTask.lease_until.is_(None), CallbackTask.lease_until <= now),
            )
            .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            continue  # another dialer's
        leased.append(
            Leased(
                task.id,
                request.phone,
                request.name,
                request.topic,
                task.operator_id,
                task.attempts + 1,
                request.created_at,
                len(task.history or []) + 1,
                request.window_from,
                request.window_to,
                task.max_attempts,
            )
        )
    return leased


def release(session: Session, task_id: int, owner: str) -> None:
    """Give a leased task back untouched (no operator was free)."""
    session.execute(
        update(CallbackTask)
        .where(CallbackTask.id == task_id, CallbackTask.lease_owner == owner)
        .values(lease_owner="", lease_until=None)
        .execution_options(synchronize_session=False)
    )


def start_attempt(
    session: Session,
    *,
    task_id: int,
    owner: str,
    operator_id: int,
    action_id: str,
    channel_id: str,
    now: datetime,
    lease_seconds: float,
) -> bool:
    """The operator is claimed: the task is on the line (before the Originate is sent, so
    the call's events find it). False when the lease was lost meanwhile."""
    result = session.execute(
        update(CallbackTask)
        .where(CallbackTask.id == task_id, CallbackTask.lease_owner == owner)
        .values(
            status="calling",
            last_operator_id=operator_id,
            action_id=action_id,
            channel_id=channel_id,
            last_call_at=now,
            updated_at=now,
            # held while the call lasts; a run that dies on the line frees it after this
            lease_until=now + timedelta(seconds=lease_seconds),
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def finish_attempt(
    session: Session,
    *,
    task_id: int,
    policy: Policy,
    result: str,
    node: str,
    now: datetime,
) -> CallbackTask | None:
    """Store an attempt's result: the task's next status, when it is due again, its history."""
    task = session.get(CallbackTask, task_id)
    if task is None:
        return None
    request = session.get(CallbackRequest, task.request_id)
    assert request is not None
    counted = result not in NOT_COUNTED
    attempts = task.attempts + (1 if counted else 0)
    outcome = after_attempt(
        result=result,
        attempts=attempts,
        max_attempts=task.max_attempts,
        retry_seconds=policy.retry_seconds,
        window_from=request.window_from,
        window_to=request.window_to,
        hours=policy.hours,
        centre=policy.centre,
        now=now,
    )
    task.attempts = attempts if outcome.counted else task.attempts
    task.status = outcome.status
    task.due_at = outcome.due_at
    task.last_result = result
    task.lease_owner, task.lease_until = "", None
    if result == "answered":
        task.answered_at = task.answered_at or now
        task.call_key = f"{node}:{task.channel_id}"
    task.history = [
        *task.history,
        {
            "at": now.isoformat(),
            "result": result,
            "operator_id": task.last_operator_id,
            "channel_id": task.channel_id,
        },
    ]
    task.updated_at = now
    return task


def reassign(
    session: Session,
    *,
    task: CallbackTask,
    operator_id: int | None,
    by_user_id: int | None,
    note: str,
    window_to: datetime | None,
    policy: Policy,
    now: datetime,
) -> None:
    """Give the task to another operator (None: any free one); a new end of the window
    makes an overdue task open again. A finished or ringing task is refused (409)."""
    if task.status in ("done", "failed"):
        raise ServiceError(
            409,
            f"call-back {task.id} is {task.status}: it cannot be reassigned",
            code="callback_finished",
            params={"status": task.status},
        )
    if task.status == "calling":
        raise ServiceError(
            409,
            f"call-back {task.id} is on the line now: reassign it after the call",
            code="callback_on_the_line",
        )
    request = session.get(CallbackRequest, task.request_id)
    assert request is not None
    if window_to is not None:
        if window_to <= now:
            raise ServiceError(422, "window_to must be in the future", code="callback_window_past")
        request.window_to = window_to
        task.window_to = window_to
    due = next_due(
        window_from=request.window_from,
        window_to=request.window_to,
        not_before=now,
        hours=policy.hours,
        centre=policy.centre,
    )
    task.due_at = due
    task.status = status_at(due, request.window_to, now)
    task.operator_id = operator_id
    task.note = note
    task.history = [
        *task.history,
        {
            "at": now.isoformat(),
            "result": "reassigned",
            "operator_id": operator_id,
            "by_user_id": by_user_id,
        },
    ]
    task.updated_at = now


@dataclass(frozen=True)
class TaskFilter:
    """What a listing shows."""

    status: str | None = None
    operator_id: int | None = None
    created: tuple[datetime, datetime] | None = None
    team: tuple[int, ...] | None = None  # a group's operators: their tasks and nobody's yet


def team_where(team: tuple[int, ...] | None) -> Any:
    """A group's view of the tasks (None: every task): those given to or last taken by one
    of ``team``, and those nobody has taken yet (as a group's supervisor sees unanswered
    calls: anyone's operators may still take them)."""
    if team is None:
        return true()
    return or_(
        CallbackTask.operator_id.in_(team),
        CallbackTask.last_operator_id.in_(team),
        and_(CallbackTask.operator_id.is_(None), CallbackTask.last_operator_id.is_(None)),
    )


def in_team(task: CallbackTask, team: tuple[int, ...] | None) -> bool:
    """:func:`team_where` for one task."""
    if team is None:
        return True
    if task.operator_id is None and task.last_operator_id is None:
        return True
    return task.operator_id in team or task.last_operator_id in team


def list_tasks(
    session: Session, flt: TaskFilter, *, limit: int, offset: int
) -> tuple[int, list[tuple[CallbackTask, CallbackRequest]]]:
    """(total, page) of tasks with their requests: open ones by due time, then newest."""
    where: list[Any] = [team_where(flt.team)]
    if flt.status is not None:
        where.append(CallbackTask.status == flt.status)
    if flt.operator_id is not None:
        where.append(
            or_(
                CallbackTask.operator_id == flt.operator_id,
                CallbackTask.last_operator_id == flt.operator_id,
            )
        )
    if flt.created is not None:
        where.append(
            and_(
                CallbackTask.created_at >= flt.created[0],
                CallbackTask.created_at < flt.created[1],
            )
        )
    total = int(session.scalar(select(func.count(CallbackTask.id)).where(*where)) or 0)
    rows = session.execute(
        select(CallbackTask, CallbackRequest)
        .join(CallbackRequest, CallbackRequest.id == CallbackTask.request_id)
        .where(*where)
        .order_by(
            CallbackTask.status.in_(("done", "failed")),
            CallbackTask.due_at.asc().nulls_last(),
            CallbackTask.id.desc(),
        )
        .limit(limit)
        .offset(offset)
    ).all()
    return total, [(task, request) for task, request in rows]


def counts(session: Session, team: tuple[int, ...] | None = None) -> dict[str, int]:
    """Tasks by status (every status named, 0 when none); ``team``: a group's view."""
    found = dict(
        session.execute(
            select(CallbackTask.status, func.count(CallbackTask.id))
            .where(team_where(team))
            .group_by(CallbackTask.status)
        ).all()
    )
    return {status: int(found.get(status, 0)) for status in TASK_STATUSES}


@dataclass(frozen=True)
class Kpi:
    """Time from request to call-back over the tasks requested in a period."""

    requested: int
    reached: int  # the applicant was put through
    failed: int
    overdue: int
    open: int
    mean_seconds: float | None
    median_seconds: float | None
    p90_seconds: float | None

    def as_dict(self) -> dict[str, Any]:
        """The JSON of the API and the reports."""
        return dict(self.__dict__)


def time_to_callback(seconds: list[float], statuses: list[str]) -> Kpi:
    """The KPI from each reached task's seconds and every task's status (pure)."""
    ordered = sorted(seconds)
    p90 = None
    if ordered:
        p90 = ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]  # nearest rank
    return Kpi(
        requested=len(statuses),
        reached=len(ordered),
        failed=statuses.count("failed"),
        overdue=statuses.count("overdue"),
        open=sum(1 for s in statuses if s in ("waiting", "due", "calling")),
        mean_seconds=round(statistics.fmean(ordered), 1) if ordered else None,
        median_seconds=round(statistics.median(ordered), 1) if ordered else None,
        p90_seconds=round(p90, 1) if p90 is not None else None,
    )


def kpi(
    session: Session, *, start: datetime, end: datetime, team: tuple[int, ...] | None = None
) -> Kpi:
    """Time from request to call-back for the requests made in [start, end); ``team``: a
    group's view (:func:`team_where`: the tasks the list shows a group's supervisor)."""
    rows = session.execute(
        select(CallbackTask.status, CallbackTask.answered_at, CallbackRequest.created_at)
        .join(CallbackRequest, CallbackRequest.id == CallbackTask.request_id)
        .where(
            CallbackRequest.created_at >= start,
            CallbackRequest.created_at < end,
            team_where(team),
        )
    ).all()
    seconds = [
        (answered - created).total_seconds()
        for _, answered, created in rows
        if answered is not None
    ]
    return time_to_callback(seconds, [status for status, _, _ in rows])


def wrapup_listener(session: Session, wrapup: Wrapup) -> None:
    """A submitted wrap-up of a call-back's call closes the task (WrapupService listener).

    The call names its task through ``CALLAGENT_CALLBACK_ID`` (set by the Originate).
    """
    call = call_by_key(session, wrapup.call_key)
    if call is None and wrapup.call_id is not None:
        call = session.get(Call, wrapup.call_id)
    raw = str((call.variables or {}).get(TASK_VARIABLE, "")) if call is not None else ""
    task = session.get(CallbackTask, int(raw)) if raw.isdigit() else None
    if task is None:
        return
    now = utcnow()
    task.wrapup_id = wrapup.id
    task.closed_at = task.closed_at or now
    task.updated_at = now


def payload(
    task: CallbackTask, request: CallbackRequest, mask: Callable[[str], str] | None = None
) -> dict[str, Any]:
    """The task as the API shows it (``mask`` hides the name and number, the caller's
    choice: the API masks without calls:read_pii)."""
    seconds = None
    if task.answered_at is not None:
        seconds = round((task.answered_at - request.created_at).total_seconds(), 1)
    name, phone = request.name, request.phone
    if mask is not None:
        name, phone = mask(name), mask(phone)
    return {
        "id": task.id,
        "request_id": request.id,
        "name": name,
        "phone": phone,
        "topic": request.topic,
        "window_from": request.window_from,
        "window_to": request.window_to,
        "requested_at": request.created_at,
        "status": task.status,
        "due_at": task.due_at,
        "attempts": task.attempts,
        "max_attempts": task.max_attempts,
        "operator_id": task.operator_id,
        "last_operator_id": task.last_operator_id,
        "last_result": task.last_result,
        "last_call_at": task.last_call_at,
        "answered_at": task.answered_at,
        "seconds_to_callback": seconds,
        "call_key": task.call_key,
        "wrapup_id": task.wrapup_id,
        "closed_at": task.closed_at,
        "note": task.note,
        "history": list(task.history or []),
    }
