"""The report's facts besides calls, read from the database: the operators' state
history, wrap-ups, notification attempts, and the callers of the week before."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from callagent.auth.scopes import Role
from callagent.db.campaign_models import Campaign, NotificationAttempt
from callagent.db.models import Call, OperatorStateChange, User
from callagent.db.wrapup_models import Wrapup
from callagent.reports.activity import AttemptFact, WrapupFact
from callagent.reports.facts import ENDED
from callagent.reports.operator_time import StateChange, StateSpan, spans

REPEAT_LOOKBACK = timedelta(days=7)
_IN_LIST = 500  # numbers per IN list of the repeat callers' look-back


def _users(session: Session, group: str | None) -> dict[int, str]:
    """Operators (all, or a supervisor's team): id -> login."""
    query = select(User.id, User.login)
    if group is not None:
        query = query.where(User.group == group, User.role == Role.OPERATOR.value)
    return {int(uid): str(login) for uid, login in session.execute(query)}


def load_spans(
    session: Session, *, since: datetime, until: datetime, group: str | None = None
) -> list[StateSpan]:
    """Every operator's states over ``[since, until)`` (pass ``until`` no later than now:
    the state an operator is in lasts until then). ``group``: a team only."""
    users = _users(session, group)
    if not users:
        return []
    ids = list(users)
    # each operator's last change before the period: one index seek per operator (a
    # GROUP BY over the history read all of it, for every day of an aggregates' rebuild)
    last_at = (
        select(func.max(OperatorStateChange.at))
        .where(OperatorStateChange.user_id == User.id, OperatorStateChange.at < since)
        .correlate(User)
        .scalar_subquery()
    )
    last = [
        (uid, at)
        for uid, at in session.execute(select(User.id, last_at).where(User.id.in_(ids)))
        if at is not None
    ]
    columns = (
        OperatorStateChange.user_id,
        OperatorStateChange.at,
        OperatorStateChange.to_state,
        OperatorStateChange.reason,
    )
    rows = [
        *(
            session.execute(
                select(*columns).where(
                    # one seek per operator: SQLite scans the whole (user_id, at) index
                    # for a row-value IN list (a second a week in a year's rebuild)
                    or_(
                        *(
                            and_(OperatorStateChange.user_id == uid, OperatorStateChange.at == at)
                            for uid, at in last
                        )
                    )
                )
            )
            if last
            else []
        ),
        *session.execute(
            select(*columns).where(
                OperatorStateChange.user_id.in_(ids),
                OperatorStateChange.at >= since,
                OperatorStateChange.at < until,
            )
        ),
    ]
    changes = [
        StateChange(users[int(uid)], at, str(state), str(reason or ""))
        for uid, at, state, reason in rows
    ]
    return spans(changes, since, until)


def load_wrapups(
    session: Session, *, since: datetime, until: datetime, group: str | None = None
) -> list[WrapupFact]:
    """The wrap-ups begun in ``[since, until)`` (``group``: a team's operators')."""
    users = _users(session, group)
    rows = session.execute(
        select(
            Wrapup.operator_id,
            Wrapup.started_at,
            Wrapup.status,
            Wrapup.category,
            Wrapup.missed_at,
            Wrapup.fields,
        ).where(
            Wrapup.started_at >= since,
            Wrapup.started_at < until,
            Wrapup.operator_id.in_(list(users)),
        )
    )
    return [
        WrapupFact(
            users[int(uid)],
            started,
            str(status),
            category,
            missed is not None,
            str((fields or {}).get("service") or ""),
        )
        for uid, started, status, category, missed, fields in rows
    ]


def load_attempts(session: Session, *, since: datetime, until: datetime) -> list[AttemptFact]:
    """The campaigns' notification attempts begun in ``[since, until)``."""
    rows = session.execute(
        select(Campaign.name, NotificationAttempt.started_at, NotificationAttempt.result)
        .join(Campaign, Campaign.id == NotificationAttempt.campaign_id)
        .where(NotificationAttempt.started_at >= since, NotificationAttempt.started_at < until)
    )
    return [AttemptFact(str(name), at, str(result or "")) for name, at, result in rows]


def earlier_callers(
    session: Session, *, since: datetime, numbers: Sequence[str]
) -> list[tuple[str, datetime]]:
    """(caller, offered at) of the ended inbound calls of these numbers in the 7 days before
    ``since``: what makes a period's first calls repeats."""
    wanted = sorted({n for n in numbers if n})
    found: list[tuple[str, datetime]] = []
    ended_before = (
        Call.direction == "inbound",
        # ended calls, as the period's own: a call's repeat flags are then the same
        # whichever period (or interval aggregate) reads it
        ENDED,
        Call.started_at >= since - REPEAT_LOOKBACK,
        Call.started_at < since,
    )
    if len(wanted) > _IN_LIST:
        # many numbers (a week of a large centre): one read of the week before, kept by
        # number here. In lists of 500, PostgreSQL read that week by its start index once
        # per list: ~190 times a week's calls for each week of a 5 M-call rebuild
        keep = set(wanted)
        return [
            (str(number), at)
            for number, at in session.execute(
                select(Call.caller_number, Call.started_at).where(*ended_before)
            )
            if number in keep
        ]
    for i in range(0, len(wanted), _IN_LIST):  # bounded IN lists
        found += [
            (str(number), at)
            for number, at in session.execute(
                select(Call.caller_number, Call.started_at).where(
                    *ended_before, Call.caller_number.in_(wanted[i : i + _IN_LIST])
                )
            )
        ]
    return found
