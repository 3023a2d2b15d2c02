"""Leases on registry entries: two dialer runs never dial the same entry twice.

An entry is leased by one conditional UPDATE (``... WHERE lease_until IS NULL OR
lease_until < now``), so of two runs racing for it only one wins; on PostgreSQL
the rows to update are picked ``FOR UPDATE SKIP LOCKED``, so concurrent runs on
several hosts skip the rows another run is taking instead of queueing on them,
and read the next candidates. A
run that is killed leaves leases that simply expire (``lease_until``); its
unfinished attempts are settled from what the PBX reported of their calls before
the entries are leased again (:mod:`callagent.campaigns.orphans`, run by the
dialer in the same transaction), not closed for the run's sake.

The attempt row (with its unique ActionID and ChannelId) and the attempt count
are written in the same transaction as the lease, BEFORE the Originate is sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from callagent.campaigns.window import CallingWindow, entry_zone
from callagent.db.campaign_models import Campaign, DoNotCall, NotificationAttempt, RegistryEntry

DIALLABLE = ("pending", "in_progress")
_SCAN_FACTOR = 4  # candidates read per slot: some are outside their window


@dataclass(frozen=True)
class CampaignPlan:
    """What the dialer needs of a campaign, read once per pass."""

    id: int
    name: str
    mode: str
    status: str
    office_timezone: str
    window: CallingWindow
    max_concurrent: int
    max_attempts: int
    retry_delays: dict[str, Any]
    calls_per_second: float
    caller_id: str
    dial_template: str
    context: str

    @classmethod
    def of(cls, row: Campaign) -> CampaignPlan:
        """From the row; :class:`WindowError` when its window cannot be read."""
        return cls(
            id=row.id,
            name=row.name,
            mode=row.mode,
            status=row.status,
            office_timezone=row.office_timezone,
            window=CallingWindow.parse(row.window or {}, row.holidays or []),
            max_concurrent=max(1, row.max_concurrent),
            max_attempts=max(1, row.max_attempts),
            retry_delays=dict(row.retry_delays or {}),
            calls_per_second=row.calls_per_second if row.calls_per_second > 0 else 1.0,
            caller_id=row.caller_id,
            dial_template=row.dial_template,
            context=row.context,
        )


@dataclass(frozen=True)
class Leased:
    """An entry this run may dial now, with its attempt already stored."""

    campaign_id: int
    entry_id: int
    attempt_id: int
    phone: str  # E.164
    action_id: str
    channel_id: str
    attempt_number: int


def _lease_free(now: datetime) -> Any:
    return or_(RegistryEntry.lease_until.is_(None), RegistryEntry.lease_until < now)


def phone_for(phones: Sequence[str], attempts: int) -> tuple[int, str]:
    """The number to dial for the next attempt: the entry's numbers in turn."""
    index = attempts % len(phones)
    return index, phones[index]


def lease_due(
    session: Session,
    plan: CampaignPlan,
    *,
    owner: str,
    run_id: str,
    now: datetime,
    limit: int,
    lease_seconds: float,
    busy: frozenset[int] = frozenset(),
) -> list[Leased]:
    """Lease up to ``limit`` due entries of ``plan`` inside their window (in one transaction).

    Due: status pending (or in_progress with an expired lease), attempts left,
    ``next_attempt_at`` passed, and the window open for the number to dial in that
    number's zone. Entries outside their window get ``next_attempt_at`` = their next
    opening, so they are not read again before. Entries another run leased between
    our read and our UPDATE are skipped and the next ones read. ``busy``: entries not to
    lease now (a call of a run that went away is still going).
    """
    lost: set[int] = set(busy)
    for _ in range(8):
        leased, missed = _lease_once(
            session,
            plan,
            owner=owner,
            run_id=run_id,
            now=now,
            limit=limit,
            lease_seconds=lease_seconds,
            skip=frozenset(lost),
        )
        if leased or not missed:
            return leased
        lost |= missed
    return []


def _lease_once(
    session: Session,
    plan: CampaignPlan,
    *,
    owner: str,
    run_id: str,
    now: datetime,
    limit: int,
    lease_seconds: float,
    skip: frozenset[int],
) -> tuple[list[Leased], set[int]]:
    if limit <= 0:
        return [], set()
    query = (
        select(
            RegistryEntry.id,
            RegistryEntry.phones,
            RegistryEntry.phone_timezones,
            RegistryEntry.attempts,
        )
        .where(
            RegistryEntry.campaign_id == plan.id,
            RegistryEntry.status.in_(DIALLABLE),
            RegistryEntry.attempts < plan.max_attempts,
            or_(RegistryEntry.next_attempt_at.is_(None), RegistryEntry.next_attempt_at <= now),
            _lease_free(now),
        )
        .order_by(RegistryEntry.next_attempt_at.asc().nulls_first(), RegistryEntry.id)
        .limit(limit * _SCAN_FACTOR)
    )
    if skip:
        query = query.where(RegistryEntry.id.not_in(skip))
    chosen: dict[int, tuple[str, int]] = {}
    later: dict[int, datetime] = {}
    invalid: list[int] = []
    for entry_id, phones, zones, attempts in session.execute(query).all():
        if not phones:
            invalid.append(entry_id)
            continue
        index, phone = phone_for(phones, attempts)
        stored = str(zones[index]) if zones and index < len(zones) else None
        tz = entry_zone(phone, stored, plan.office_timezone)
        if plan.window.is_open(now, tz):
            if len(chosen) < limit:
                chosen[entry_id] = (phone, attempts)
        else:
            # not read again before it opens; a window that never opens: look again tomorrow
            later[entry_id] = plan.window.next_open(now, tz) or now + timedelta(days=1)
    if later:  # one executemany by primary key, the lease condition kept
        session.execute(
            update(RegistryEntry)
            .where(_lease_free(now))
            .execution_options(synchronize_session=None),
            [{"id": entry_id, "next_attempt_at": opens} for entry_id, opens in later.items()],
        )
    _close(session, invalid, status="invalid", last_result="no_valid_phone", now=now)
    if chosen:
        # Numbers put on the do-not-call list since the import (DTMF 9 in another
        # campaign, or by hand) are never dialled.
        blocked = set(
            session.scalars(
                select(DoNotCall.phone).where(
                    DoNotCall.phone.in_({phone for phone, _ in chosen.values()})
                )
            )
        )
        stopped = [entry_id for entry_id, (phone, _) in chosen.items() if phone in blocked]
        _close(session, stopped, status="do_not_call", last_result="do_not_call_list", now=now)
        for entry_id in stopped:
            del chosen[entry_id]
    if not chosen:
        return [], set()
    until = now + timedelta(seconds=lease_seconds)
    # PostgreSQL: lock the rows first, skipping those another run is leasing right now
    # (not waiting for them); the conditions are checked on the locked rows. SQLite has
    # one writer: the conditional UPDATE alone decides.
    free = [
        int(entry_id)
        for entry_id in session.scalars(
            select(RegistryEntry.id)
            .where(
                RegistryEntry.id.in_(list(chosen)),
                RegistryEntry.status.in_(DIALLABLE),
                _lease_free(now),
            )
            .with_for_update(skip_locked=True)
        )
    ]
    won = (
        set(
            session.scalars(
                update(RegistryEntry)
                .where(
                    RegistryEntry.id.in_(free),
                    RegistryEntry.status.in_(DIALLABLE),
                    _lease_free(now),
                )
                .values(
                    lease_owner=owner,
                    lease_until=until,
                    status="in_progress",
                    attempts=RegistryEntry.attempts + 1,
                    last_call_at=now,
                    updated_at=now,
                )
                .returning(RegistryEntry.id)
                .execution_options(synchronize_session=False)
            ).all()
        )
        if free
        else set()
    )
    if not won:
        return [], set(chosen)
    rows: list[dict[str, Any]] = []
    for entry_id in sorted(won):
        token = uuid.uuid4().hex
        rows.append(
            {
                "campaign_id": plan.id,
                "entry_id": entry_id,
                "phone": chosen[entry_id][0],
                "action_id": f"callagent-n-{token}",
                "channel_id": f"cn-{token}",
                "run_id": run_id,
                "started_at": now,
                "result": "",
                "digit": "",
            }
        )
    # one multi-row INSERT ... RETURNING (SQLite and PostgreSQL)
    ids = dict(
        (str(action_id), int(attempt_id))
        for attempt_id, action_id in session.execute(
            insert(NotificationAttempt).returning(
                NotificationAttempt.id, NotificationAttempt.action_id
            ),
            rows,
        )
    )
    out = [
        Leased(
            plan.id,
            row["entry_id"],
            ids[row["action_id"]],
            row["phone"],
            row["action_id"],
            row["channel_id"],
            chosen[row["entry_id"]][1] + 1,
        )
        for row in rows
    ]
    return out, set(chosen) - won


def _close(
    session: Session, entry_ids: Sequence[int], *, status: str, last_result: str, now: datetime
) -> None:
    """Entries that will never be dialled (no valid number, do-not-call), if not leased."""
    if entry_ids:
        session.execute(
            update(RegistryEntry)
            .where(RegistryEntry.id.in_(entry_ids), _lease_free(now))
            .values(status=status, last_result=last_result)
            .execution_options(synchronize_session=False)
        )


def release_unsent(session: Session, leased: Sequence[Leased], *, owner: str) -> None:
    """Give back entries leased but never dialled: no attempt happened."""
    if not leased:
        return
    session.execute(
        delete(NotificationAttempt)
        .where(NotificationAttempt.id.in_([item.attempt_id for item in leased]))
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(RegistryEntry)
        .where(
            RegistryEntry.id.in_([item.entry_id for item in leased]),
            RegistryEntry.lease_owner == owner,
        )
        .values(
            lease_owner="",
            lease_until=None,
            status="pending",
            attempts=RegistryEntry.attempts - 1,
        )
        .execution_options(synchronize_session=False)
    )


def renew(
    session: Session, entry_ids: Sequence[int], *, owner: str, now: datetime, lease_seconds: float
) -> int:
    """Extend the leases of calls still in flight; how many were ours to extend."""
    if not entry_ids:
        return 0
    result = session.execute(
        update(RegistryEntry)
        .where(and_(RegistryEntry.id.in_(list(entry_ids)), RegistryEntry.lease_owner == owner))
        .values(lease_until=now + timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
