"""Attempts whose run went away: settled from what the PBX reported, not from the run's fate.

A run killed mid-call (``kill -9``, a crash, a restart of the service) leaves attempts
without a result while their calls go on at the PBX. The service still hears them: its
tracker stores each call's record (answered, the hang-up cause, the ``CALLAGENT_*``
variables) under the Originate's ChannelId, and its FastAGI ``notify`` script stores
the digit the applicant pressed on the attempt. Once the run's lease on the entry has
expired, the next dialler pass (a later ``campaign run``, or the service's scheduler)
settles each such attempt from those reports (:func:`settle_orphans`):

- a digit stored, or the call's record ended: the result the run would have stored
  (1 notified, 9 do not call, busy, no answer, answered without a digit, ...); an
  attempt with a digit is never ``timeout``;
- the call's record still going: left for now, and its entry is not leased again while
  the applicant is still on the line (up to the longest call);
- nothing known (the PBX never made the call, or the service did not hear it): the
  attempt ends as ``timeout`` and its entry is due again, as before.

An attempt closed as ``timeout`` whose digit was stored afterwards (the service heard
it later than the lease expired) is settled again from the digit.

Two passes racing for one orphan (two runs, two hosts) are kept apart by a conditional
UPDATE on the attempt's result: only the pass that changed it stores the entry and the
webhook.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, not_, or_, select, update
from sqlalchemy.orm import Session

from callagent.campaigns.lease import CampaignPlan, Leased
from callagent.campaigns.results import Watched, reported
from callagent.campaigns.settle import Settled, store_results
from callagent.db.campaign_models import NotificationAttempt, RegistryEntry
from callagent.db.models import Call

_BATCH = 500  # orphans settled per pass (a mass kill is settled over a few passes)


@dataclass(frozen=True)
class _Orphan:
    leased: Leased
    run_id: str
    started_at: datetime
    result: str  # '' (open) or 'timeout' (closed before its digit was stored)
    digit: str
    missing_prompt: str
    lease_owner: str
    lease_free: bool
    entry_status: str
    entry_attempts: int


def settle_orphans(
    session: Session,
    plan: CampaignPlan,
    *,
    node: str,
    now: datetime,
    longest: timedelta,
) -> frozenset[int]:
    """Settle ``plan``'s attempts whose run's lease is gone (caller's transaction).

    Returns the entries whose call is still going: not to be leased now. ``node``: the
    PBX node whose call records are read; ``longest``: after this long from its start a
    call whose record never ended is settled from what is known.
    """
    orphans = _find(session, plan, now)
    if not orphans:
        return frozenset()
    records = _records(session, node, [o.leased.channel_id for o in orphans])
    going: set[int] = set()
    decided: list[tuple[_Orphan, Watched, str, str | None]] = []
    for orphan in orphans:
        record = records.get(orphan.leased.channel_id)
        young = orphan.started_at > now - longest
        if record is not None and not record["final"] and young and orphan.result == "":
            going.add(orphan.leased.entry_id)
            continue
        if orphan.digit or orphan.missing_prompt or record is not None:
            watched = reported(
                orphan.leased.action_id,
                orphan.leased.channel_id,
                digit=orphan.digit,
                missing_prompt=orphan.missing_prompt,
                answered=record is not None and record["answered_at"] is not None,
                cause=record["hangup_cause"] if record is not None else None,
                variables=dict(record["variables"] or {}) if record is not None else {},
                operator_answered=record is not None and bool(record["operator_endpoint"]),
            )
            decided.append((orphan, watched, watched.result, _owner(orphan, plan)))
        else:
            watched = Watched(orphan.leased.action_id, orphan.leased.channel_id)
            # nothing known: the entry is due again at once (its lease has expired), unless
            # that was its last attempt
            last = orphan.entry_attempts >= plan.max_attempts
            decided.append((orphan, watched, "timeout", orphan.run_id if last else None))
    won = [item for item in decided if _claim(session, item[0], item[2], now)]
    store_results(
        session,
        [Settled(plan, o.leased, w, outcome, owner) for o, w, outcome, owner in won],
        node=node,
        now=now,
    )
    return frozenset(going)


def _owner(orphan: _Orphan, plan: CampaignPlan) -> str | None:
    """Whose lease the entry must be under to follow this orphan's result; None: nobody's."""
    if orphan.result == "":
        return orphan.run_id  # the dead run's (another run's lease: only the attempt)
    # settled again (a late digit): an entry another run holds now, or one already
    # closed otherwise, keeps its state
    if not orphan.lease_free or orphan.entry_status in ("do_not_call", "invalid"):
        return None
    return orphan.lease_owner


def _find(session: Session, plan: CampaignPlan, now: datetime) -> list[_Orphan]:
    attempt, entry = NotificationAttempt, RegistryEntry
    query = (
        select(
            attempt.id,
            attempt.entry_id,
            attempt.phone,
            attempt.action_id,
            attempt.channel_id,
            attempt.run_id,
            attempt.started_at,
            attempt.result,
            attempt.digit,
            attempt.missing_prompt,
            entry.lease_owner,
            entry.lease_until,
            entry.status,
            entry.attempts,
        )
        .join(entry, entry.id == attempt.entry_id)
        .where(
            attempt.campaign_id == plan.id,
            or_(
                # open, and its run no longer holds the entry
                and_(
                    attempt.result == "",
                    not_(and_(entry.lease_owner == attempt.run_id, entry.lease_until >= now)),
                ),
                # closed as timeout, and a digit came afterwards
                and_(attempt.result == "timeout", attempt.digit != ""),
            ),
        )
        .order_by(attempt.id)
        .limit(_BATCH)
    )
    out: list[_Orphan] = []
    for row in session.execute(query):
        until = row.lease_until
        out.append(
            _Orphan(
                leased=Leased(
                    plan.id,
                    int(row.entry_id),
                    int(row.id),
                    str(row.phone),
                    str(row.action_id),
                    str(row.channel_id),
                    int(row.attempts),
                ),
                run_id=str(row.run_id),
                started_at=row.started_at,
                result=str(row.result),
                digit=str(row.digit),
                missing_prompt=str(row.missing_prompt),
                lease_owner=str(row.lease_owner),
                lease_free=until is None or until < now,
                entry_status=str(row.status),
                entry_attempts=int(row.attempts),
            )
        )
    return out


def _records(session: Session, node: str, channel_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The tracker's call records of these Originates (linkedid = the ChannelId we chose)."""
    query = select(
        Call.linkedid,
        Call.final,
        Call.answered_at,
        Call.hangup_cause,
        Call.variables,
        Call.operator_endpoint,
    ).where(Call.linkedid.in_(channel_ids))
    if node:
        query = query.where(Call.node == node)
    return {str(row.linkedid): dict(row._mapping) for row in session.execute(query)}


def _claim(session: Session, orphan: _Orphan, outcome: str, now: datetime) -> bool:
    """Set the attempt's result if no other pass did meanwhile; True when this pass did."""
    claimed = session.execute(
        update(NotificationAttempt)
        .where(
            NotificationAttempt.id == orphan.leased.attempt_id,
            NotificationAttempt.result == orphan.result,
        )
        .values(result=outcome, ended_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(claimed.rowcount)  # type: ignore[attr-defined]
