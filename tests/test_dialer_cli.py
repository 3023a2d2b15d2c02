"""`callagent campaign run` as cron runs it: a real process, real AMI, real kill."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from callagent.campaigns.run_cli import parse_until
from callagent.db.campaign_models import NotificationAttempt
from tests.conftest import RunningService, running_service, wait_for
from tests.test_dialer import (
    Clock,
    add_entries,
    dial,
    entries,
    make_campaign,
    originates,
    sessions_of,
    simulated_outbound,
)

CALLAGENT = str(Path(sys.executable).parent / "callagent")


def _env(service: RunningService, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLAGENT_")}
    env.update(
        CALLAGENT_DATABASE_URL=service.settings.database_url,
        CALLAGENT_AMI_HOST="127.0.0.1",
        CALLAGENT_AMI_PORT=str(service.pbx.port),
        CALLAGENT_AMI_USERNAME=service.pbx.username,
        CALLAGENT_AMI_SECRET=service.pbx.secret,
        CALLAGENT_AMI_CONNECT_TIMEOUT="1",
        CALLAGENT_CAMPAIGN_RESPONSE_TIMEOUT="3",
        CALLAGENT_LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


async def run_cli(
    service: RunningService, tmp: Path, *args: str, **env: str
) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        CALLAGENT,
        "campaign",
        "run",
        *args,
        env=_env(service, **env),
        cwd=tmp,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_a_cron_run_dials_what_is_due_and_exits(db_url: str, tmp_path: Path) -> None:
    async with running_service(db_url, campaign_scheduler="off") as service:
        campaign_id = make_campaign(service)
        add_entries(service, campaign_id, ["+79167000001", "+79167000002", "+79167000003"])
        plan = {"+79167000001": "answered:1", "+79167000002": "busy", "+79167000003": "answered:9"}
        async with simulated_outbound(service, plan):
            code, out, err = await run_cli(service, tmp_path, "--campaign", "docs")
            assert code == 0, err
            assert "3 entries due now" in out
            assert "placed 3 call(s)" in out and "nothing more is due" in out
            assert "answered 2" in out and "busy 1" in out
            got = entries(service, campaign_id)
            assert [got[p].status for p in sorted(got)] == ["notified", "pending", "do_not_call"]
            code, out, _ = await run_cli(service, tmp_path)
            assert code == 0 and "0 entries due now" in out and "placed 0 call(s)" in out
            assert originates(service, "+79167000002") == 1  # its retry is 15 minutes away


async def test_max_calls_and_until(db_url: str, tmp_path: Path) -> None:
    async with running_service(db_url, campaign_scheduler="off") as service:
        campaign_id = make_campaign(service, max_concurrent=1)
        add_entries(service, campaign_id, [f"+7916800000{n}" for n in range(4)])
        async with simulated_outbound(service, {}):
            code, out, err = await run_cli(service, tmp_path, "--max-calls", "2")
            assert code == 0, err
            assert "placed 2 call(s)" in out and "--max-calls reached" in out
            code, out, _ = await run_cli(service, tmp_path, "--until", "2000-01-01T00:00")
            assert code == 0 and "has passed" in out
        assert sum(e.status == "notified" for e in entries(service, campaign_id).values()) == 2


async def test_exit_codes(db_url: str, tmp_path: Path) -> None:
    async with running_service(db_url, campaign_scheduler="off") as service:
        make_campaign(service)
        code, _, err = await run_cli(service, tmp_path, "--campaign", "nope")
        assert code == 2 and "no campaign named 'nope' (known: docs)" in err
        code, _, err = await run_cli(service, tmp_path, "--until", "tea time")
        assert code == 2 and "HH:MM" in err
        code, _, err = await run_cli(service, tmp_path, CALLAGENT_AMI_HOST="")
        assert code == 4 and "no AMI node configured" in err
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            closed = str(sock.getsockname()[1])
        code, _, err = await run_cli(service, tmp_path, CALLAGENT_AMI_PORT=closed)
        assert code == 4 and "cannot reach the AMI" in err


async def test_a_killed_run_leaves_nothing_stuck_after_its_lease(
    db_url: str, tmp_path: Path
) -> None:
    async with running_service(db_url, campaign_scheduler="off") as service:
        campaign_id = make_campaign(service)
        add_entries(service, campaign_id, ["+79169000001"])
        service.pbx.silent_actions = {"originate"}  # the call is ringing when the run dies
        proc = await asyncio.create_subprocess_exec(
            CALLAGENT,
            "campaign",
            "run",
            env=_env(service, CALLAGENT_CAMPAIGN_LEASE_SECONDS="2"),
            cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            await wait_for(lambda: originates(service, "+79169000001") == 1, timeout=30)
        finally:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
        got = entries(service, campaign_id)["+79169000001"]
        assert got.status == "in_progress" and got.lease_owner.startswith("run-")
        service.pbx.silent_actions = set()
        async with simulated_outbound(service, {}):
            clock = Clock(datetime.now(UTC))
            summary, _ = await dial(service, clock)
            assert summary.placed == 0  # still leased by the dead run
            await asyncio.sleep(2.1)
            clock.now = datetime.now(UTC)
            summary, _ = await dial(service, clock)
            assert summary.placed == 1
        got = entries(service, campaign_id)["+79169000001"]
        assert (got.status, got.attempts, got.lease_owner) == ("notified", 2, "")
        with sessions_of(service)() as session:
            results = sorted(a.result for a in session.scalars(select(NotificationAttempt)))
        assert results == ["answered", "timeout"]


def test_until_forms() -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert parse_until("2026-11-23T20:00+03:00", now) == datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    local = parse_until("23:59", now).astimezone()
    assert (local.hour, local.minute) == (23, 59)
    for bad in ("25:00", "noon", "2026-13-01"):
        with pytest.raises(ValueError, match="--until"):
            parse_until(bad, now)


def test_progress_bar_on_a_terminal_and_lines_otherwise() -> None:
    from collections import Counter

    from callagent.campaigns.dialer import RunSummary
    from callagent.campaigns.run_cli import Progress

    tty = io.StringIO()
    bar = Progress(4, tty, tty=True)
    bar.update(RunSummary(placed=2, results=Counter({"answered": 1, "busy": 1})))
    bar.close()
    assert tty.getvalue() == "\r[###############...............] 2/4 answered=1 busy=1   \n"
    plain = io.StringIO()
    lines = Progress(100, plain, tty=False)
    for n in range(1, 101):
        lines.update(RunSummary(placed=n, results=Counter({"busy": n})))
    printed = plain.getvalue().splitlines()
    assert len(printed) == 3 and printed[-1].endswith("settled 100: busy=100")  # 1, 50, 100
