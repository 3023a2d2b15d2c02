"""Operator state changes from the PBX stored a burst at a time (routing/driver.py).

The events waiting are applied in one transaction; when one of them fails for a reason
that is not the database's (here the wrap-up hook refusing a call), the burst is applied
again event by event and only that event is skipped, in order, the others stored.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from callagent.db.models import User
from callagent.routing.driver import StateDriver
from callagent.tracker.events import CallAnswered, CallEnded, OperatorRinging
from tests.conftest import running_service
from tests.test_routing import add_operators, set_ready

pytestmark = pytest.mark.asyncio


async def test_a_burst_commits_once_and_a_bad_event_is_skipped_alone(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_service(db_url) as service:
        op1, op2 = add_operators(service, 2)
        await set_ready(service, [op1, op2])
        state = service.app.state  # type: ignore[attr-defined]
        book = state.book
        opened = book.wrapup_hook

        def hook(session: Session, user: User, call: str | None, now: datetime) -> datetime | None:
            if call == "pbx1:1795370000.9":
                raise ValueError("this call's wrap-up cannot be opened")
            return opened(session, user, call, now) if opened else None

        book.wrapup_hook = hook
        commits: list[int] = []

        def count(session: Session) -> None:
            commits.append(1)

        event.listen(book.sessions, "after_commit", count)
        driver = StateDriver(book, state.monitor.tracker, state.router, "skip")
        good, bad = ("pbx1", "1795370000.1"), ("pbx1", "1795370000.9")
        try:
            # a burst that stores: two calls ringing and answered, one commit for all
            for item in (
                OperatorRinging(good, "PJSIP/op1001", "a.1"),
                OperatorRinging(bad, "PJSIP/op1002", "b.1"),
                CallAnswered(good, "PJSIP/op1001"),
                CallAnswered(bad, "PJSIP/op1002"),
            ):
                driver.queue.put_nowait(item)
            task = asyncio.create_task(driver.run())
            await asyncio.wait_for(driver.queue.join(), 10)
            assert len(commits) == 1
            assert (book.view(op1).state, book.view(op2).state) == ("on_call", "on_call")
            # a burst with an event at fault: the others are stored, in order
            caplog.set_level(logging.ERROR, logger="callagent.routing.driver")
            driver.queue.put_nowait(CallEnded(bad, ("PJSIP/op1002",)))
            driver.queue.put_nowait(CallEnded(good, ("PJSIP/op1001",)))
            await asyncio.wait_for(driver.queue.join(), 10)
            task.cancel()
        finally:
            event.remove(book.sessions, "after_commit", count)
        assert book.view(op1).state == "wrap_up"  # after the bad one, still stored
        assert book.view(op2).state == "on_call"  # its change refused, nothing half-done
        failed = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert failed == [
            "operator state update for 2 event(s) failed",
            "operator state update for CallEnded failed",
        ]
