"""The KPI engine's facts, read from the call records and the operators' state history."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from callagent.db.models import Call, OperatorStateChange
from callagent.db.queries import operators_by_endpoint
from callagent.reports.kpi import CallFact

# a wrap-up is never longer than this: state history beyond it is not read
_LONGEST_WRAPUP = timedelta(hours=12)


def load_facts(
    session: Session,
    *,
    since: datetime,
    until: datetime,
    endpoints: Sequence[str] | None = None,
) -> list[CallFact]:
    """The inbound calls offered in ``[since, until)`` (ended ones: a call in progress
    counts once it ends). ``endpoints``: only calls answered by these phones, and the
    unanswered ones (a supervisor's team); None: all."""
    query = select(Call).where(
        Call.direction == "inbound",
        Call.final.is_(True),
        Call.started_at >= since,
        Call.started_at < until,
    )
    if endpoints is not None:
        query = query.where(
            or_(Call.operator_endpoint.in_(list(endpoints)), Call.operator_endpoint.is_(None))
        )
    calls = session.scalars(query.order_by(Call.started_at, Call.id)).all()
    owners = operators_by_endpoint(session)
    acw = after_call_work(session, calls)
    facts: list[CallFact] = []
    for call in calls:
        endpoint = call.operator_endpoint or ""
        owner = owners.get(endpoint)
        facts.append(
            CallFact(
                call_id=call.id,
                offered_at=call.started_at,
                disposition=call.disposition,
                wait_seconds=_wait(call),
                talk_seconds=call.talk_seconds or 0.0,
                hold_seconds=call.hold_seconds or 0.0,
                acw_seconds=acw.get(f"{call.node}:{call.linkedid}", 0.0),
                operator=owner[1] if owner else endpoint,
                topic=str((call.variables or {}).get("CALLAGENT_TOPIC", "")),
                did=call.dialled_number,
                transferred=bool(call.transfers),
            )
        )
    return facts


def _wait(call: Call) -> float:
    """Until an operator answered; until the caller left (or the call ended) otherwise."""
    if call.wait_seconds is not None:
        return call.wait_seconds
    end = call.answered_at or call.ended_at
    return (end - call.started_at).total_seconds() if end else 0.0


def after_call_work(session: Session, calls: Sequence[Call]) -> dict[str, float]:
    """Seconds each call's operator spent in ``wrap_up`` for it, by call key
    (``node:linkedid``): from entering wrap-up for the call to their next state change."""
    keys = {f"{call.node}:{call.linkedid}" for call in calls if call.disposition == "answered"}
    if not keys:
        return {}
    entries = session.execute(
        select(OperatorStateChange.user_id, OperatorStateChange.at, OperatorStateChange.call)
        .where(OperatorStateChange.to_state == "wrap_up", OperatorStateChange.call.in_(keys))
        .order_by(OperatorStateChange.at)
    ).all()
    if not entries:
        return {}
    users = {user_id for user_id, _, _ in entries}
    first = min(at for _, at, _ in entries)
    last = max(at for _, at, _ in entries) + _LONGEST_WRAPUP
    changes: dict[int, list[datetime]] = defaultdict(list)
    for user_id, at in session.execute(
        select(OperatorStateChange.user_id, OperatorStateChange.at)
        .where(
            OperatorStateChange.user_id.in_(users),
            OperatorStateChange.at > first,
            OperatorStateChange.at <= last,
        )
        .order_by(OperatorStateChange.at)
    ):
        changes[user_id].append(at)
    acw: dict[str, float] = defaultdict(float)
    for user_id, at, key in entries:
        following = next((t for t in changes[user_id] if t > at), None)
        if following is not None:  # still in wrap-up: counted once it ends
            acw[str(key)] += (following - at).total_seconds()
    return dict(acw)
