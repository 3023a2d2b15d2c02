"""Pending entries made due again when a campaign's schedule changes.

The lease gives an entry outside its calling window ``next_attempt_at`` = the window's
next opening, so it is not read again before. When the window, holidays, zone, retry
delays or attempts change, or the campaign is started again, those dates may be wrong:
each pending entry becomes due at the earliest moment the new settings allow (its retry
time after its last call ended, or now if never called), and the next lease checks the new
window. A date is only ever moved earlier: a short pause the dialer set (no operator
free, the PBX refusing) stays.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from callagent.campaigns.results import retry_delay
from callagent.db.campaign_models import Campaign, NotificationAttempt, RegistryEntry

# the settings that decide when an entry is due
SCHEDULE_FIELDS = frozenset(
    {"window", "holidays", "office_timezone", "retry_delays", "max_attempts"}
)


def reschedule_pending(session: Session, *, campaign: Campaign, now: datetime) -> int:
    """Move the pending, unleased entries of ``campaign`` due later than their settings say
    to their earliest due moment (no commit); the number of entries moved."""
    # a retry is counted from the end of the last attempt (results.entry_update)
    last_end = (
        select(func.max(NotificationAttempt.ended_at))
        .where(NotificationAttempt.entry_id == RegistryEntry.id)
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            RegistryEntry.id,
            RegistryEntry.attempts,
            RegistryEntry.last_result,
            func.coalesce(last_end, RegistryEntry.last_call_at),
            RegistryEntry.next_attempt_at,
        ).where(
            RegistryEntry.campaign_id == campaign.id,
            RegistryEntry.status == "pending",
            RegistryEntry.next_attempt_at > now,
            or_(RegistryEntry.lease_until.is_(None), RegistryEntry.lease_until <= now),
        )
    ).all()
    delays = dict(campaign.retry_delays or {})
    moved: list[dict[str, Any]] = []
    for entry_id, attempts, last_result, last_end_at, due in rows:
        earliest: datetime | None = None  # never called: due now
        if attempts and last_end_at is not None:
            earliest = last_end_at + timedelta(seconds=retry_delay(delays, last_result))
        if earliest is None or due is None or earliest < due:
            moved.append({"id": entry_id, "next_attempt_at": earliest})
    if moved:
        session.execute(update(RegistryEntry).execution_options(synchronize_session=None), moved)
    return len(moved)
