"""Reading call records back: the filters of the API and of ``callagent replay``."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from callagent.db.models import Call, Device, User
from callagent.db.wrapup_models import Wrapup

TOPIC_VARIABLE = "CALLAGENT_TOPIC"  # the dialplan's routing topic, kept in the call's variables


@dataclass(frozen=True, slots=True)
class CallFilter:
    """What ``GET /api/v1/calls`` may filter on."""

    since: datetime | None = None
    until: datetime | None = None
    operator: str | None = None
    phone: str | None = None
    direction: str | None = None
    disposition: str | None = None
    final: bool | None = None
    only_endpoints: tuple[str, ...] | None = None  # an operator's own phones
    include_unanswered: bool = False  # with only_endpoints: also calls no operator took
    topic: str | None = None  # the routing topic (CALLAGENT_TOPIC)
    category: str | None = None  # a wrap-up category one of its operators chose
    operators: tuple[str, ...] | None = None  # any of these phones (one operator's phones)
    call_ids: Any = None  # a SELECT of call ids to keep (a QA evaluator's assigned calls)


def _apply(query: Select[Any], f: CallFilter) -> Select[Any]:
    if f.since is not None:
        query = query.where(Call.started_at >= f.since)
    if f.until is not None:
        query = query.where(Call.started_at < f.until)
    if f.operator:
        query = query.where(Call.operator_endpoint == f.operator)
    if f.phone:
        query = query.where(
            or_(
                Call.applicant_number == f.phone,
                Call.caller_number == f.phone,
                Call.dialled_number == f.phone,
            )
        )
    if f.direction:
        query = query.where(Call.direction == f.direction)
    if f.disposition:
        query = query.where(Call.disposition == f.disposition)
    if f.final is not None:
        query = query.where(Call.final.is_(f.final))
    if f.topic:
        query = query.where(Call.variables[TOPIC_VARIABLE].as_string() == f.topic)
    if f.category:
        # a wrap-up names its call by id, or only by key while the record was not written
        key = Call.node + ":" + Call.linkedid
        query = query.where(
            exists().where(
                Wrapup.category == f.category,
                or_(Wrapup.call_id == Call.id, Wrapup.call_key == key),
            )
        )
    if f.operators is not None:
        query = query.where(Call.operator_endpoint.in_(f.operators))
    if f.call_ids is not None:
        query = query.where(Call.id.in_(f.call_ids))
    if f.only_endpoints is not None:
        mine = Call.operator_endpoint.in_(f.only_endpoints)
        query = query.where(
            or_(mine, Call.operator_endpoint.is_(None)) if f.include_unanswered else mine
        )
    return query


def list_calls(
    session: Session, f: CallFilter, *, limit: int = 50, offset: int = 0
) -> tuple[int, list[Call]]:
    """(total matching, one page of calls, newest first)."""
    total = session.scalar(_apply(select(func.count()).select_from(Call), f)) or 0
    rows: Sequence[Call] = session.scalars(
        _apply(select(Call), f)
        .order_by(Call.started_at.desc(), Call.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return total, list(rows)


def call_topics(session: Session, f: CallFilter, *, limit: int = 200) -> list[str]:
    """The routing topics of the calls ``f`` matches (for a filter's drop-down), sorted."""
    topic = Call.variables[TOPIC_VARIABLE].as_string()
    rows = session.scalars(
        _apply(select(topic).where(topic.is_not(None), topic != "").distinct(), f).limit(limit)
    ).all()
    return sorted(str(row) for row in rows)


def get_call(session: Session, call_id: int) -> Call | None:
    """One call with its legs and attempts."""
    return session.scalar(
        select(Call)
        .where(Call.id == call_id)
        .options(selectinload(Call.legs), selectinload(Call.attempts))
    )


def all_calls_detailed(session: Session) -> list[Call]:
    """Every call, oldest first, with legs and attempts (replay output)."""
    query = (
        select(Call)
        .order_by(Call.started_at, Call.id)
        .options(selectinload(Call.legs), selectinload(Call.attempts))
    )
    return list(session.scalars(query).all())


def list_devices(session: Session, node: str | None = None) -> list[Device]:
    """Every device the PBX told us about."""
    query = select(Device).order_by(Device.node, Device.device)
    if node:
        query = query.where(Device.node == node)
    return list(session.scalars(query).all())


def operators_by_endpoint(session: Session) -> dict[str, tuple[int, str]]:
    """Phone endpoint -> (operator id, login): who answers on which phone."""
    rows = session.execute(select(User.id, User.login, User.endpoints)).all()
    return {
        endpoint: (uid, login) for uid, login, endpoints in rows for endpoint in endpoints or []
    }


class EndpointOwners:
    """``operators_by_endpoint``, cached: phones rarely change hands.

    Read again after ``ttl`` seconds, or sooner (at most once a second) when asked
    about a phone it does not know, e.g. one just given to a new operator.
    Thread-safe: the map is replaced whole, never changed in place.
    """

    def __init__(self, sessions: sessionmaker[Session], ttl: float = 5.0) -> None:
        self.sessions = sessions
        self.ttl = ttl
        self._owners: dict[str, tuple[int, str]] = {}
        self._at = float("-inf")

    def fresh(self, endpoints: Iterable[str] = ()) -> bool:
        """True when the cached map may answer for ``endpoints`` without a read."""
        age = time.monotonic() - self._at
        unknown = any(e not in self._owners for e in endpoints)
        return age <= self.ttl and not (unknown and age > 1.0)

    def get(self, endpoints: Iterable[str] = ()) -> dict[str, tuple[int, str]]:
        """Endpoint -> (operator id, login), read from the database when not fresh."""
        endpoints = tuple(endpoints)
        if not self.fresh(endpoints):
            with self.sessions() as session:
                self._owners = operators_by_endpoint(session)
            self._at = time.monotonic()
        return self._owners
