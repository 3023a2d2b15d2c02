"""Who may see or tag which wrap-up, and finding the wrap-ups of calls.

Operators: their own; supervisors: those of their group (all when they have no group);
admins and API tokens: all. The API's routers ask here and only shape the answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from callagent.auth.scopes import Role
from callagent.auth.service import Principal, group_endpoints
from callagent.db.models import Call, CallAttempt, User
from callagent.db.queries import operators_by_endpoint
from callagent.db.wrapup_models import Wrapup
from callagent.quality.service import given_calls, is_given
from callagent.routing.operators import utcnow
from callagent.wrapup.service import WrapupError, WrapupService, open_wrapup


def may_touch(db: Session, principal: Principal, operator_id: int) -> bool:
    """Operators: their own; supervisors: their group's (all without a group); others: all."""
    if principal.role == Role.OPERATOR:
        return principal.user_id == operator_id
    if principal.role == Role.SUPERVISOR and principal.group:
        if principal.user_id == operator_id:
            return True
        owner = db.get(User, operator_id)
        return owner is not None and owner.group == principal.group
    return True


def forbid_unless_theirs(db: Session, principal: Principal, wrapup: Wrapup) -> None:
    """Refuse (403) a wrap-up this principal may not see or change."""
    if not may_touch(db, principal, wrapup.operator_id) or not is_given(
        db, principal, wrapup.call_id
    ):
        raise WrapupError(403, f"wrap-up {wrapup.id} is not one you may see or change")


def wrapup_by_id(db: Session, principal: Principal, wrapup_id: int) -> Wrapup:
    """One wrap-up this principal may see (404 when none, 403 when not theirs)."""
    wrapup = db.get(Wrapup, wrapup_id)
    if wrapup is None:
        raise WrapupError(404, f"no wrap-up with id {wrapup_id}")
    forbid_unless_theirs(db, principal, wrapup)
    return wrapup


def calls_wrapups(db: Session, calls: Sequence[Call]) -> dict[int, list[Wrapup]]:
    """call id -> its wrap-ups (by id, or by key when the record came later), in one query."""
    keys = {f"{call.node}:{call.linkedid}": call.id for call in calls}
    found: dict[int, list[Wrapup]] = {call.id: [] for call in calls}
    if not calls:
        return found
    rows = db.scalars(
        select(Wrapup)
        .where(or_(Wrapup.call_id.in_(list(found)), Wrapup.call_key.in_(list(keys))))
        .order_by(Wrapup.id)
    ).all()
    for row in rows:
        for call_id in found.keys() & {row.call_id, keys.get(row.call_key or "")}:
            found[call_id].append(row)
    return found


def took_call(db: Session, call: Call, endpoints: tuple[str, ...]) -> bool:
    """Whether one of these phones answered or rang for the call."""
    if not endpoints:
        return False
    if call.operator_endpoint in endpoints:
        return True
    rung = db.scalar(
        select(CallAttempt.id)
        .where(CallAttempt.call_id == call.id, CallAttempt.endpoint.in_(endpoints))
        .limit(1)
    )
    return rung is not None


def wrapup_for_call(
    db: Session,
    principal: Principal,
    call_id: int,
    operator_id: int | None,
    service: WrapupService,
    *,
    create: bool,
) -> Wrapup:
    """The wrap-up of a call this principal means (opened now, with ``create``, if the
    hook never ran)."""
    call = db.get(Call, call_id)
    if call is None:
        raise WrapupError(404, f"no call with id {call_id}")
    if not is_given(db, principal, call.id):  # a QA evaluator: the calls given to them
        raise WrapupError(403, f"call {call_id} is not one of the calls you may see")
    wrapups = calls_wrapups(db, [call])[call.id]
    if principal.role == Role.OPERATOR:
        operator_id = principal.user_id
    if operator_id is not None:
        wrapups = [w for w in wrapups if w.operator_id == operator_id]
    if len(wrapups) > 1:
        operators = sorted({w.operator_id for w in wrapups})
        raise WrapupError(
            422, f"call {call_id} has wrap-ups of operators {operators}: give operator_id"
        )
    if wrapups:
        forbid_unless_theirs(db, principal, wrapups[0])
        return wrapups[0]
    if principal.role == Role.OPERATOR:
        if not took_call(db, call, principal.endpoints):
            raise WrapupError(403, f"call {call_id} is not one of your calls")
    elif operator_id is None:
        owner = operators_by_endpoint(db).get(call.operator_endpoint or "")
        if owner is None:
            raise WrapupError(
                404 if not create else 422,
                f"call {call_id} had no operator, so it has no wrap-up",
            )
        operator_id = owner[0]
    if not create:
        raise WrapupError(404, f"call {call_id} has no wrap-up yet")
    assert operator_id is not None
    if db.get(User, operator_id) is None:
        raise WrapupError(404, f"no operator with id {operator_id}")
    if not may_touch(db, principal, operator_id):
        raise WrapupError(403, f"call {call_id} is not one you may tag")
    # The call took place but no wrap-up was opened (e.g. before callagent followed the
    # operator's state): open it now.
    wrapup = open_wrapup(
        db,
        operator_id=operator_id,
        call_key=f"{call.node}:{call.linkedid}",
        now=utcnow(),
        forms=service.forms,
        default_seconds=service.default_seconds,
    )
    wrapup.call_id = call.id
    return wrapup


@dataclass(frozen=True, slots=True)
class WrapupFilter:
    """What GET /api/v1/wrapups narrows to; None: any."""

    operator_id: int | None = None
    status: str | None = None
    category: str | None = None
    missed: bool | None = None
    since: datetime | None = None
    until: datetime | None = None


def list_wrapups(
    db: Session, principal: Principal, where: WrapupFilter, *, limit: int, offset: int
) -> Sequence[Wrapup]:
    """Wrap-ups this principal may see, newest first (an operator asking for another
    operator's: 403)."""
    query = select(Wrapup)
    operator_id = where.operator_id
    if principal.role == Role.OPERATOR:
        if operator_id is not None and operator_id != principal.user_id:
            raise WrapupError(403, "operators see only their own wrap-ups")
        operator_id = principal.user_id
    elif principal.role == Role.SUPERVISOR and principal.group:
        group = select(User.id).where(User.group == principal.group)
        query = query.where(
            or_(Wrapup.operator_id.in_(group), Wrapup.operator_id == principal.user_id)
        )
    given = given_calls(principal)
    if given is not None:  # a QA evaluator: the wrap-ups of the calls given to them
        query = query.where(Wrapup.call_id.in_(given))
    if operator_id is not None:
        query = query.where(Wrapup.operator_id == operator_id)
    if where.status is not None:
        query = query.where(Wrapup.status == where.status)
    if where.category is not None:
        query = query.where(Wrapup.category == where.category)
    if where.missed is not None:
        missed = Wrapup.missed_at
        query = query.where(missed.is_not(None) if where.missed else missed.is_(None))
    if where.since is not None:
        query = query.where(Wrapup.started_at >= where.since)
    if where.until is not None:
        query = query.where(Wrapup.started_at < where.until)
    return db.scalars(
        query.order_by(Wrapup.started_at.desc(), Wrapup.id.desc()).limit(limit).offset(offset)
    ).all()


def calls_with_number(
    db: Session, principal: Principal, digits: str, *, limit: int
) -> Sequence[Call]:
    """A number's calls this principal may see, newest first: a group's supervisor those
    of the group's operators and the unanswered ones (as GET /api/v1/calls)."""
    query = select(Call).where(_number_is(digits))
    if principal.sees_only_group_calls:
        endpoints = group_endpoints(db, group=principal.group)
        query = query.where(
            or_(Call.operator_endpoint.in_(endpoints), Call.operator_endpoint.is_(None))
        )
    return db.scalars(query.order_by(Call.started_at.desc(), Call.id.desc()).limit(limit)).all()


def talked_with(db: Session, principal: Principal, digits: str) -> bool:
    """Whether the principal's operator is on a call with this number now, or their
    phones took or rang for one of its recent calls (they may look it up)."""
    match = _number_is(digits)
    user = db.get(User, principal.user_id) if principal.user_id is not None else None
    if user is None:
        return False
    if user.claimed_call:
        parts = user.claimed_call.partition(":")
        claimed = db.scalar(
            select(Call.id).where(Call.node == parts[0], Call.linkedid == parts[2], match)
        )
        if claimed is not None:
            return True
    endpoints = principal.endpoints
    if not endpoints:
        return False
    recent = db.scalars(
        select(Call.id).where(match).order_by(Call.started_at.desc()).limit(50)
    ).all()
    # one query for all the recent calls (not one per call): did these phones take or ring?
    rung = select(CallAttempt.call_id).where(
        CallAttempt.call_id.in_(recent), CallAttempt.endpoint.in_(endpoints)
    )
    took = db.scalar(
        select(Call.id)
        .where(Call.id.in_(recent), or_(Call.operator_endpoint.in_(endpoints), Call.id.in_(rung)))
        .limit(1)
    )
    return took is not None


def _number_is(digits: str) -> Any:
    return or_(Call.applicant_number == digits, Call.caller_number == digits)
