"""The KPI engine's facts, read from the call records and the operators' state history."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from callagent.db.models import Call, CallLeg, OperatorStateChange
from callagent.db.queries import operators_by_endpoint
from callagent.reports.kpi import CallFact, OperatorPart, operator_parts

# a wrap-up is never longer than this: state history beyond it is not read
LONGEST_WRAPUP = timedelta(hours=12)


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
    if endpoints is not None:  # the calls these phones took part in, and unanswered ones
        took_part = select(CallLeg.call_id).where(CallLeg.endpoint.in_(list(endpoints)))
        query = query.where(
            or_(
                Call.operator_endpoint.in_(list(endpoints)),
                Call.operator_endpoint.is_(None),
                Call.id.in_(took_part),
            )
        )
    calls = session.scalars(query.order_by(Call.started_at, Call.id)).all()
    owners = operators_by_endpoint(session)
    acw = after_call_work(session, calls)
    legs = _operator_legs(session, [c.id for c in calls if c.transfers])
    facts: list[CallFact] = []
    for call in calls:
        key = f"{call.node}:{call.linkedid}"
        endpoint = call.operator_endpoint or ""
        owner = owners.get(endpoint)
        parts: tuple[OperatorPart, ...] = ()
        if len(legs.get(call.id, ())) > 1:  # several operators talked on it
            parts = tuple(
                OperatorPart(
                    operator=owners[phone][1] if phone in owners else phone,
                    talk_seconds=talk,
                    hold_seconds=hold,
                    acw_seconds=acw.get((key, owners[phone][0]), 0.0) if phone in owners else 0.0,
                )
                for phone, talk, hold in operator_parts(legs[call.id], _holds(call))
            )
        facts.append(
            CallFact(
                call_id=call.id,
                offered_at=call.started_at,
                disposition=call.disposition,
                wait_seconds=_wait(call),
                talk_seconds=call.talk_seconds or 0.0,
                hold_seconds=call.hold_seconds or 0.0,
                acw_seconds=sum(v for (k, _), v in acw.items() if k == key),
                operator=owner[1] if owner else endpoint,
                topic=str((call.variables or {}).get("CALLAGENT_TOPIC", "")),
                did=call.dialled_number,
                transferred=bool(call.transfers),
                parts=parts,
                caller=call.caller_number,
            )
        )
    return facts


def _operator_legs(
    session: Session, call_ids: list[int]
) -> dict[int, list[tuple[str, float, float]]]:
    """The answered operator legs of these calls: (endpoint, answered, ended) in epoch s."""
    found: dict[int, list[tuple[str, float, float]]] = defaultdict(list)
    if not call_ids:
        return found
    for leg in session.scalars(
        select(CallLeg).where(
            CallLeg.call_id.in_(call_ids),
            CallLeg.role == "operator",
            CallLeg.answered_at.is_not(None),
        )
    ):
        assert leg.answered_at is not None
        ended = leg.ended_at or leg.answered_at
        found[leg.call_id].append((leg.endpoint, leg.answered_at.timestamp(), ended.timestamp()))
    return found


def _holds(call: Call) -> list[tuple[float, float]]:
    """The call's holds from its timeline: (start, end) in epoch s; one still on at the
    end ends with the call."""
    end = call.ended_at.timestamp() if call.ended_at else 0.0
    started: dict[str, float] = {}
    holds: list[tuple[float, float]] = []
    for entry in call.timeline or []:
        event, at, who = entry.get("event"), float(entry.get("at", 0.0)), entry.get("endpoint", "")
        if event == "hold":
            started.setdefault(who, at)
        elif event == "unhold" and who in started:
            holds.append((started.pop(who), at))
    holds += [(at, max(at, end)) for at in started.values()]
    return sorted(holds)


def _wait(call: Call) -> float:
    """Until an operator answered; until the caller left (or the call ended) otherwise."""
    if call.wait_seconds is not None:
        return call.wait_seconds
    end = call.answered_at or call.ended_at
    return (end - call.started_at).total_seconds() if end else 0.0


def after_call_work(session: Session, calls: Sequence[Call]) -> dict[tuple[str, int], float]:
    """Seconds each operator spent in ``wrap_up`` for each call, by (call key
    ``node:linkedid``, user id): from entering wrap-up for it to their next state change."""
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
    last = max(at for _, at, _ in entries) + LONGEST_WRAPUP
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
    acw: dict[tuple[str, int], float] = defaultdict(float)
    for user_id, at, key in entries:
        following = next((t for t in changes[user_id] if t > at), None)
        # still in wrap-up (or past the longest wrap-up): counted once it ends; the bound
        # is per wrap-up so that a call's after-call work does not depend on which other
        # calls were read with it (a year, or the hour an interval aggregate is built from)
        if following is not None and following - at <= LONGEST_WRAPUP:
            acw[(str(key), int(user_id))] += (following - at).total_seconds()
    return dict(acw)
