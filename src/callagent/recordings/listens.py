"""Who listened to which recording: one audit entry per listen, not per range request.

A browser's player fetches a recording in many range requests (the start, then each
seek). A *listen* is one person (user or token) hearing one call's recording: its first
request writes ``recordings.listen`` to the audit log, and every further request of the
same person for the same call within ``LISTEN_WINDOW`` is the same listen. Coming back
later is a new listen.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from callagent.auth.service import Principal, audit
from callagent.db.models import AuditEntry

LISTEN_ACTION = "recordings.listen"
LISTEN_WINDOW = timedelta(minutes=30)


def record_listen(
    session: Session, *, principal: Principal, call_id: int, file_name: str, now: datetime
) -> bool:
    """Audit the listen unless this request belongs to one already audited; True if new.

    The caller commits.
    """
    recent = session.scalars(
        select(AuditEntry.detail).where(
            AuditEntry.action == LISTEN_ACTION,
            AuditEntry.actor == principal.actor,
            AuditEntry.at >= now - LISTEN_WINDOW,
        )
    )
    if any((detail or {}).get("call_id") == call_id for detail in recent):
        return False
    audit(
        session,
        principal=principal,
        action=LISTEN_ACTION,
        detail={"call_id": call_id, "file": file_name},
        rows=1,
    )
    return True
