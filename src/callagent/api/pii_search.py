"""Searching by an applicant's phone number: who may, how often, and its audit trail.

A reader without ``calls:read_pii`` sees numbers masked (``+7 971 ***-**-10``), but
a search by number still answers whether a candidate matches (total 1 or 0): the
masked digits are recovered in minutes. So every search by number needs
``calls:read_pii``, is limited per user or token (CALLAGENT_PHONE_SEARCH_PER_MINUTE)
and is audited, whether it matched or not.
"""

from __future__ import annotations

import time

from fastapi import HTTPException, Request, status
from sqlalchemy.orm import Session

from callagent.auth.masking import mask_phone
from callagent.auth.scopes import Scope
from callagent.auth.service import Principal, audit
from callagent.auth.throttle import SlidingWindow

_WINDOW = 60.0


class PhoneSearchLimiter:
    """At most ``per_minute`` searches by number per credential in any 60 s (per process)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._window = SlidingWindow(per_minute, _WINDOW)

    def take(self, actor: str) -> int:
        """Count one search of ``actor``; 0, or the seconds to wait (nothing counted)."""
        now = time.monotonic()
        wait = self._window.retry_after(actor, now)
        if wait > 0:
            return int(wait) + 1
        self._window.hit(actor, now)
        return 0


def allow_phone_search(request: Request, principal: Principal) -> None:
    """Let a search by phone number through, or answer 403 / 429 (before any query)."""
    if Scope.CALLS_READ_PII not in principal.scopes:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "searching by phone number needs the calls:read_pii scope: without it numbers "
            "are shown masked, and a search would tell them",
        )
    limiter: PhoneSearchLimiter = request.app.state.phone_search_limiter
    wait = limiter.take(principal.actor)
    if wait:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"at most {limiter.per_minute} searches by phone number a minute; "
            f"try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )


def phone_detail(number: str) -> str:
    """The searched number as the audit log keeps it: masked like any reader sees it."""
    if not any(ch.isdigit() for ch in number):
        return "***" if number else ""  # text where a number belongs: not kept either
    return mask_phone(number[:64])


def audit_phone_search(
    db: Session, principal: Principal, *, action: str, number: str, rows: int, **detail: object
) -> None:
    """Record one search by number (also one that found nothing) and commit it."""
    record: dict[str, object] = {k: str(v) for k, v in detail.items() if v not in (None, "")}
    record["phone"] = phone_detail(number)
    audit(db, principal=principal, action=action, detail=record, rows=rows)
    db.commit()
