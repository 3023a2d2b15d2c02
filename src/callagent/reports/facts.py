"""The KPI engine's facts, read from the call records and the operators' state history."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Text, cast, func, or_, select
from sqlalchemy.orm import Session, aliased

from callagent.db.models import Call, CallLeg, OperatorStateChange
from callagent.db.queries import operators_by_endpoint
from callagent.jsonsafe import load_stored_json
from callagent.reports.kpi import CallFact, OperatorPart, operator_parts

# a wrap-up is never longer than this: state history beyond it is not read
LONGEST_WRAPUP = timedelta(hours=12)
# an ended call, not by ix_calls_final: SQLite without statistics took that index (half
# the table) over the one on the start or the caller, and read every ended call of the
# database for each week a rebuild counted; no index serves a function of the column
ENDED = func.coalesce(Call.final, False).is_(True)


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
    # the columns a fact needs, as tuples (an ORM object per call cost more than the rest
    # of a report); the JSON columns as their text, decoded once per distinct text
    query = select(
        Call.id,
        Call.node,
        Call.linkedid,
        Call.started_at,
        Call.answered_at,
        Call.ended_at,
        Call.disposition,
        Call.wait_seconds,
        Call.talk_seconds,
        Call.hold_seconds,
        Call.operator_endpoint,
        Call.dialled_number,
        Call.caller_number,
        cast(Call.variables, Text),
        cast(Call.transfers, Text),
    ).where(
        Call.direction == "inbound",
        ENDED,
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
    rows = session.execute(query.order_by(Call.started_at, Call.id)).all()
    owners = operators_by_endpoint(session)
    topics = _Decoded(lambda value: str((value or {}).get("CALLAGENT_TOPIC", "")))
    transferred = _Decoded(bool)
    acw = after_call_work(
        session, (f"{r.node}:{r.linkedid}" for r in rows if r.disposition == "answered")
    )
    per_call: dict[str, float] = {}  # a call's after-call work, all its operators'
    for (key, _), seconds in acw.items():  # in the order the sum over them had
        per_call[key] = per_call.get(key, 0) + seconds
    legs = _operator_legs(session, [r.id for r in rows if transferred(r[14])])
    timelines = _timelines(session, [i for i, mine in legs.items() if len(mine) > 1])
    facts: list[CallFact] = []
    for row in rows:
        (cid, node, linkedid, started, answered, ended, disposition, wait, talk, hold) = row[:10]
        endpoint = row.operator_endpoint or ""
        key = f"{node}:{linkedid}"
        owner = owners.get(endpoint)
        parts: tuple[OperatorPart, ...] = ()
        if len(legs.get(cid, ())) > 1:  # several operators talked on it
            parts = tuple(
                OperatorPart(
                    operator=owners[phone][1] if phone in owners else phone,
                    talk_seconds=talk_part,
                    hold_seconds=hold_part,
                    acw_seconds=acw.get((key, owners[phone][0]), 0.0) if phone in owners else 0.0,
                )
                for phone, talk_part, hold_part in operator_parts(
                    legs[cid], _holds(timelines.get(cid), ended)
                )
            )
        facts.append(
            CallFact(
                call_id=cid,
                offered_at=started,
                disposition=disposition,
                wait_seconds=_wait(wait, started, answered, ended),
                talk_seconds=talk or 0.0,
                hold_seconds=hold or 0.0,
                acw_seconds=per_call.get(key, 0),
                operator=owner[1] if owner else endpoint,
                topic=topics(row[13]),
                did=row.dialled_number,
                transferred=transferred(row[14]),
                parts=parts,
                caller=row.caller_number,
            )
        )
    return facts


class _Decoded:
    """A JSON column's text decoded (as the engines decode it) and mapped by ``pick``,
    once per distinct text: most calls' variables and transfers are the same few texts."""

    def __init__(self, pick: Callable[[Any], Any]) -> None:
        self.pick = pick
        self.seen: dict[str | None, Any] = {}

    def __call__(self, text: str | None) -> Any:
        try:
            return self.seen[text]
        except KeyError:
            value = self.pick(load_stored_json(text) if text is not None else None)
            if len(self.seen) < 10_000:  # bounded: per-call texts are decoded each time
                self.seen[text] = value
            return value


def _timelines(session: Session, call_ids: list[int]) -> dict[int, list[Any]]:
    """These calls' timelines (the holds of calls several operators talked on)."""
    found: dict[int, list[Any]] = {}
    for i in range(0, len(call_ids), 500):
        for cid, timeline in session.execute(
            select(Call.id, Call.timeline).where(Call.id.in_(call_ids[i : i + 500]))
        ):
            found[int(cid)] = list(timeline or [])
    return found


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


def _holds(timeline: list[Any] | None, ended_at: datetime | None) -> list[tuple[float, float]]:
    """A call's holds from its timeline: (start, end) in epoch s; one still on at the
    end ends with the call."""
    end = ended_at.timestamp() if ended_at else 0.0
    started: dict[str, float] = {}
    holds: list[tuple[float, float]] = []
    for entry in timeline or []:
        event, at, who = entry.get("event"), float(entry.get("at", 0.0)), entry.get("endpoint", "")
        if event == "hold":
            started.setdefault(who, at)
        elif event == "unhold" and who in started:
            holds.append((started.pop(who), at))
    holds += [(at, max(at, end)) for at in started.values()]
    return sorted(holds)


def _wait(
    wait: float | None, started: datetime, answered: datetime | None, ended: datetime | None
) -> float:
    """Until an operator answered; until the caller left (or the call ended) otherwise."""
    if wait is not None:
        return wait
    end = answered or ended
    return (end - started).total_seconds() if end else 0.0


def after_call_work(session: Session, keys: Iterable[str]) -> dict[tuple[str, int], float]:
    """Seconds each operator spent in ``wrap_up`` for each of these calls (keys
    ``node:linkedid``), by (call key, user id): from entering wrap-up for it to their next
    state change."""
    wanted = sorted(set(keys))
    h = OperatorStateChange
    following = aliased(OperatorStateChange)
    # each entry's next change of the same operator: one seek in (user_id, at) per entry,
    # not the operators' whole history around them
    next_at = (
        select(func.min(following.at))
        .where(following.user_id == h.user_id, following.at > h.at)
        .correlate(h)
        .scalar_subquery()
    )
    entries: list[tuple[int, datetime, str, datetime | None]] = []
    for i in range(0, len(wanted), 500):  # bounded IN lists
        entries += [
            (int(user_id), at, str(key), after)
            for user_id, at, key, after in session.execute(
                select(h.user_id, h.at, h.call, next_at).where(
                    h.to_state == "wrap_up", h.call.in_(wanted[i : i + 500])
                )
            )
        ]
    entries.sort(key=lambda entry: entry[1])
    acw: dict[tuple[str, int], float] = defaultdict(float)
    for user_id, at, key, after in entries:
        # still in wrap-up (or past the longest wrap-up): counted once it ends; the bound
        # is per wrap-up so that a call's after-call work does not depend on which other
        # calls were read with it (a year, or the hour an interval aggregate is built from)
        if after is not None and after - at <= LONGEST_WRAPUP:
            acw[(key, user_id)] += (after - at).total_seconds()
    return dict(acw)
