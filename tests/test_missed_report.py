"""Missed wrap-ups are told at INFO at most once a minute (issue #17 point 11b).

In 18 minutes of the demo the log had 104 "wrap-up(s) missed their deadline" lines: the
sweep runs every second and said so whenever one wrap-up had missed. Now the first miss
is told at once and the ones after it are added up into one line a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from callagent.auth.scopes import Role
from callagent.auth.service import create_user
from callagent.db.session import make_engine, make_sessionmaker
from callagent.db.wrapup_models import Wrapup
from callagent.routing.operators import utcnow
from callagent.wrapup.forms import load_forms
from callagent.wrapup.service import MissedReport, WrapupService, open_wrapup
from tests.conftest import wait_for

LOGGER = "callagent.wrapup.service"


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == LOGGER and r.levelno >= logging.INFO and "missed their deadline" in r.message
    ]


def test_the_report_adds_misses_up_for_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    report = MissedReport(every=60.0)
    report.add(0, now=0.0)
    assert _lines(caplog) == []  # nothing missed, nothing said
    report.add(1, now=1.0)
    assert _lines(caplog) == ["1 wrap-up(s) missed their deadline"]  # the first at once
    for second in (2.0, 10.0, 30.0, 60.9):
        report.add(1, now=second)
    assert len(_lines(caplog)) == 1
    report.add(0, now=61.0)  # a minute after the last line: the four since then
    assert _lines(caplog)[1:] == ["4 wrap-up(s) missed their deadline"]
    report.add(0, now=500.0)
    assert len(_lines(caplog)) == 2


async def test_a_sweep_a_second_says_one_line_for_misses_in_turn(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        operator = create_user(session, login="op", role=Role.OPERATOR, password="x" * 12).id
    service = WrapupService(sessions, load_forms(), default_seconds=1)
    runner = asyncio.create_task(service.run(interval=0.05))
    try:
        for n in range(5):  # one wrap-up past its deadline at a time, each in its own sweep
            with sessions.begin() as session:
                open_wrapup(
                    session,
                    operator_id=operator,
                    call_key=f"pbx1:1795353447.{n}",
                    now=utcnow() - timedelta(minutes=5),
                    forms=service.forms,
                    default_seconds=1,
                )

            def missed(count: int = n + 1) -> bool:
                with sessions() as session:
                    query = select(func.count()).where(Wrapup.status == "missed")
                    return session.scalar(query) == count

            await wait_for(missed)
        assert _lines(caplog) == ["1 wrap-up(s) missed their deadline"]
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        engine.dispose()
