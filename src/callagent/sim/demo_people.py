"""The demo's operators finish their after-call work as a person does: by the form.

In ``make run`` the simulated operators answer and hang up their phones; after a call
they submit its wrap-up through the same service a person's page uses (so the demo
shows wrap-ups submitted, not feature codes). An operator somebody has signed in as
belongs to that person: the simulator then only answers and hangs up their phone, and
never submits, pauses or readies them.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from callagent.db.models import AuthSession, User
from callagent.wrapup.forms import Category, FormField, Forms
from callagent.wrapup.service import (
    Actor,
    InvalidForm,
    WrapupError,
    WrapupService,
    pending_for,
    submit,
)

log = logging.getLogger(__name__)

# what a simulated operator types into a field of each type
_DEMO_VALUE: dict[str, Any] = {
    "text": "Демо: консультация дана",
    "phone": "+79160000000",
    "boolean": True,
    "time": "10:00",
}


def signed_in(session: Session, user_id: int, now: datetime) -> bool:
    """Somebody holds a live login session of ``user_id``."""
    return (
        session.scalar(
            select(AuthSession.id)
            .where(
                AuthSession.user_id == user_id,
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > now,
            )
            .limit(1)
        )
        is not None
    )


def demo_category(forms: Forms) -> Category:
    """The category a simulated operator picks: the first that opens no question."""
    return next((c for c in forms.categories if not c.question), forms.categories[0])


def demo_values(category: Category, now: datetime) -> dict[str, Any]:
    """A filled form: every required field shown, with the first option or a plain value."""
    values: dict[str, Any] = {}
    for field in category.fields:
        if field.show_if is not None and not field.show_if.holds(values.get(field.show_if.field)):
            continue
        if field.required:
            values[field.name] = _value(field, now)
    return values


def _value(field: FormField, now: datetime) -> Any:
    if field.type == "choice":
        return field.options[0].value
    if field.type == "multi_choice":
        return [field.options[0].value]
    if field.type == "date":
        return now.date().isoformat()
    if field.type == "datetime":
        return now.replace(microsecond=0).isoformat()
    return _DEMO_VALUE.get(field.type, "")


class DemoPeople:
    """The simulator's after-call hook for ``make run``'s demo operators."""

    def __init__(self, sessions: sessionmaker[Session], wrapups: WrapupService) -> None:
        self.sessions = sessions
        self.wrapups = wrapups
        self.submitted = 0  # wrap-ups the simulated people submitted
        self.left_to_people = 0  # calls whose after-call work a signed-in person does

    async def after_call(self, endpoint: str, tries: int = 5) -> None:
        """The operator of ``endpoint`` submits their open wrap-ups, unless a person is
        signed in as them. The form may open a moment after the call's end reaches the
        service: a few tries, a second apart."""
        for _ in range(tries):
            if await asyncio.to_thread(self._after_call, endpoint):
                return
            await asyncio.sleep(1.0)

    def _after_call(self, endpoint: str) -> bool:
        """True when done (submitted, or left to a person, or nobody's phone)."""
        now = datetime.now(UTC)
        with self.sessions() as session:
            users = session.scalars(select(User).where(User.active.is_(True))).all()
            user = next((u for u in users if endpoint in (u.endpoints or [])), None)
            if user is None:
                return True
            if signed_in(session, user.id, now):
                self.left_to_people += 1
                return True
            forms = self.wrapups.forms
            category = demo_category(forms)
            pending = pending_for(session, operator_id=user.id)
            if not pending:
                return False
            for wrapup in pending:
                try:
                    submit(
                        session,
                        wrapup=wrapup,
                        category_id=category.id,
                        values=demo_values(category, now),
                        actor=Actor(actor=f"simulator:{user.login}", user_id=user.id),
                        forms=forms,
                        book=self.wrapups.book,
                        now=now,
                        listeners=self.wrapups.listeners,
                    )
                    session.commit()
                    self.submitted += 1
                except (InvalidForm, WrapupError) as exc:  # e.g. a forms file it cannot fill
                    session.rollback()
                    log.debug("demo wrap-up %s not submitted: %s", wrapup.id, exc)
        return True
