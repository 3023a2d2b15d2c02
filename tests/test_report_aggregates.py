"""Report interval aggregates (issue #12): a report read with the stored cells is the
report read from the calls, figure for figure, over random traffic, random periods and
every grouping the cells hold; a call corrected after the cells were built is seen at
once (its hours are read raw until the queue is drained) and then from the new cells.

The traffic is seeded random: operators' state walks (pauses with reasons, offline,
unavailable) with each answered call's ringing, talk and wrap-up in them, repeat
callers, topics, dialled numbers, a few calls in progress and outbound ones, over a
week around the autumn daylight-saving change in Europe/Kyiv (2026-10-25)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from callagent.auth.scopes import Role
from callagent.auth.service import create_user
from callagent.config import Settings
from callagent.db.models import Call, OperatorStateChange
from callagent.db.report_models import ReportAggregate, ReportAggregatePause, ReportDirty
from callagent.db.session import make_engine, make_sessionmaker
from callagent.reports.aggregate_read import aggregated_tallies
from callagent.reports.aggregate_store import HOURS_PER_RUN, drain, rebuild_range
from callagent.reports.build import build
from callagent.reports.inputs import load_inputs
from callagent.reports.kpi import Kpi
from callagent.reports.service import (
    aggregates_ready,
    hourly_profile,
    kpi_report,
    options_of,
    profile,
)
from tests.conftest import make_settings

START = datetime(2026, 10, 22, 21, tzinfo=UTC)  # 2026-10-23 00:00 in Kyiv (+03:00)
DAYS = 6
END = START + timedelta(days=DAYS)
NOW = END + timedelta(minutes=37)  # the hour in progress: never stored
GROUPINGS: list[tuple[str | None, int]] = [
    (None, 30),
    ("interval", 15),
    ("interval", 30),
    ("interval", 60),
    ("day", 30),
    ("week", 30),
    ("month", 30),
    ("operator", 30),
    ("topic", 30),
    ("did", 30),
]


def traffic(sessions: sessionmaker[Session], seed: int, calls: int = 260) -> None:
    """Random operators, states and calls (see the module's docstring)."""
    rng = random.Random(seed)
    logins = [f"op{n}" for n in range(4)]
    with sessions.begin() as db:
        users = {
            login: create_user(
                db, login=login, role=Role.OPERATOR, password=None, endpoints=[f"PJSIP/{login}"]
            )
            for login in logins
        }
        db.flush()
        changes: dict[str, list[tuple[datetime, str, str, str | None]]] = {
            login: [] for login in logins
        }
        for login in logins:  # a state walk: ready, pauses, offline, a gone phone
            at = START - timedelta(hours=rng.uniform(1, 30))
            while at < NOW:
                state = rng.choice(["ready", "ready", "paused", "offline", "unavailable"])
                reason = rng.choice(["break", "lunch", ""]) if state == "paused" else ""
                changes[login].append((at, state, reason, None))
                at += timedelta(minutes=rng.uniform(3, 240), microseconds=rng.randrange(10**6))
        callers = [f"+38050{n:07d}" for n in range(40)]
        for n in range(calls):
            started = START + timedelta(seconds=rng.uniform(-3600, DAYS * 86400 + 1800))
            wait = round(rng.expovariate(1 / 25), 3)
            disposition = rng.choice(["answered"] * 6 + ["abandoned"] * 3 + ["no_answer"])
            direction = "inbound" if rng.random() < 0.93 else "outbound"
            final = rng.random() < 0.95
            login = rng.choice(logins) if disposition == "answered" else None
            answered = started + timedelta(seconds=wait) if login else None
            talk = rng.uniform(10, 900) if login else None
            ended = (answered or started) + timedelta(seconds=talk or wait)
            linkedid = f"{seed}.{n}"
            db.add(
                Call(
                    node="pbx1",
                    linkedid=linkedid,
                    direction=direction,
                    caller_number=rng.choice(callers) if rng.random() < 0.9 else "",
                    dialled_number=rng.choice(["5000", "5001", "7000"]),
                    started_at=started,
                    answered_at=answered,
                    ended_at=ended,
                    wait_seconds=wait if rng.random() < 0.9 else None,
                    talk_seconds=talk,
                    hold_seconds=rng.choice([0.0, 0.0, rng.uniform(1, 60)]) if login else 0.0,
                    operator_endpoint=f"PJSIP/{login}" if login else None,
                    disposition=disposition,
                    final=final,
                    variables={"CALLAGENT_TOPIC": rng.choice(["passport", "snils", "tax"])},
                    updated_at=ended,
                )
            )
            if login and answered:
                micro = timedelta(microseconds=rng.randrange(1, 10**6))
                changes[login] += [
                    (answered - timedelta(seconds=5) + micro, "ringing", "", None),
                    (answered + micro, "on_call", "", None),
                    (ended + micro, "wrap_up", "", f"pbx1:{linkedid}"),
                ]
                if rng.random() < 0.85:  # some wrap-ups end only with the next change
                    done = ended + timedelta(seconds=rng.uniform(5, 600)) + micro
                    changes[login].append((done, "ready", "", None))
        for login, mine in changes.items():
            previous = "offline"
            for at, state, reason, call in sorted(mine, key=lambda c: c[0]):
                db.add(
                    OperatorStateChange(
                        user_id=users[login].id,
                        at=at,
                        from_state=previous,
                        to_state=state,
                        reason=reason,
                        cause="api",
                        call=call,
                    )
                )
                previous = state


def raw_report(
    db: Session, settings: Settings, since: datetime, until: datetime, by: str | None, interval: int
) -> Kpi:
    """The report straight from the calls and the state history."""
    return build(
        load_inputs(db, since=since, until=until),
        options_of(settings),
        by=by,
        zone=ZoneInfo(settings.timezone),
        interval_minutes=interval,
    )


def same(got: Any, want: Any, where: str = "") -> None:
    """Every figure equal (floats to 1e-6), every key and group present in both."""
    if isinstance(want, dict):
        assert isinstance(got, dict), where
        assert sorted(got) == sorted(want), where
        for key in want:
            same(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list), where
        assert len(got) == len(want), f"{where}: {len(got)} groups, want {len(want)}"
        for n, (one, other) in enumerate(zip(got, want, strict=True)):
            same(one, other, f"{where}[{n}]")
    elif isinstance(want, float) or isinstance(got, float):
        assert got == pytest.approx(want, abs=1e-6), where
    else:
        assert got == want, where


@pytest.fixture
def sessions(db_url: str) -> sessionmaker[Session]:
    return make_sessionmaker(make_engine(db_url))


def _period(rng: random.Random) -> tuple[datetime, datetime]:
    """A random period in the traffic's week: often whole local days, often not."""
    if rng.random() < 0.4:  # whole local days (the DST day among them)
        first = rng.randrange(0, DAYS)
        return START + timedelta(days=first), START + timedelta(days=rng.randint(first + 1, DAYS))
    since = START + timedelta(seconds=rng.uniform(-7200, DAYS * 86400))
    return since, since + timedelta(seconds=rng.uniform(60, 4 * 86400))


@pytest.mark.parametrize("seed", [1, 2])
def test_reports_with_aggregates_are_the_raw_reports(
    sessions: sessionmaker[Session], db_url: str, seed: int
) -> None:
    traffic(sessions, seed)
    settings = make_settings(db_url, None, timezone="Europe/Kyiv")
    options = options_of(settings)
    run = drain(sessions, options, now=NOW)
    assert run.hours >= DAYS * 24  # every hour from the first record's day to the horizon
    assert run.horizon == NOW.replace(minute=0, second=0, microsecond=0)
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(ReportDirty)) == 0
        assert db.scalar(select(func.count()).select_from(ReportAggregate)) > 0
    rng = random.Random(seed)
    periods = [
        (START, END),  # the whole week, its Sunday 25 hours long
        (START + timedelta(days=2), START + timedelta(days=3, hours=1)),  # the DST day
        *(_period(rng) for _ in range(6)),
    ]
    used = 0
    with sessions() as db:
        for since, until in periods:
            for by, interval in GROUPINGS:
                cells = aggregated_tallies(
                    db,
                    options,
                    since=since,
                    until=until,
                    by=by,
                    zone=ZoneInfo("Europe/Kyiv"),
                    interval_minutes=interval,
                )
                used += cells is not None
                got = kpi_report(
                    db, settings, since=since, until=until, by=by, interval_minutes=interval
                )
                want = raw_report(db, settings, since, until, by, interval)
                same(got.to_json(), want.to_json(), f"{since}..{until} by {by}/{interval}")
            # the reports page's intraday profile, from the cells' hours (both 03:00 hours
            # of the DST day in hour 3): the one counted from the calls
            assert aggregates_ready(db, settings)
            raw = profile(load_inputs(db, since=since, until=until, calls_only=True), settings)
            from_cells = hourly_profile(db, settings, since=since, until=until)
            assert from_cells == pytest.approx(raw, abs=1e-9), f"{since}..{until} profile"
    # the cells answered (nearly) every report: not a raw read compared with itself
    assert used >= (len(periods) - 1) * len(GROUPINGS)


def test_a_period_with_no_calls_is_zeros(sessions: sessionmaker[Session], db_url: str) -> None:
    traffic(sessions, 3, calls=0)
    settings = make_settings(db_url, None, timezone="Europe/Kyiv")
    drain(sessions, options_of(settings), now=NOW)
    with sessions() as db:
        for by, interval in GROUPINGS:
            got = kpi_report(db, settings, since=START, until=END, by=by, interval_minutes=interval)
            want = raw_report(db, settings, START, END, by, interval)
            same(got.to_json(), want.to_json(), f"by {by}")
            assert got.offered == 0
            assert got.service_level == 0.0
            assert got.time.logged_in_seconds > 0  # the operators' states are still counted


def test_a_call_corrected_after_aggregation_is_seen(
    sessions: sessionmaker[Session], db_url: str
) -> None:
    traffic(sessions, 4)
    settings = make_settings(db_url, None, timezone="Europe/Kyiv")
    options = options_of(settings)
    drain(sessions, options, now=NOW)
    with sessions() as db:
        before = kpi_report(db, settings, since=START, until=END, by="day")
        call = db.scalars(
            select(Call)
            .where(Call.disposition == "answered", Call.final.is_(True))
            .where(Call.direction == "inbound", Call.started_at >= START)
            .order_by(Call.started_at)
        ).first()
        assert call is not None
    with sessions.begin() as db:  # reconciliation's correction: it was abandoned
        db.execute(
            update(Call)
            .where(Call.id == call.id)
            .values(disposition="abandoned", answered_at=None, talk_seconds=None)
        )
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(ReportDirty)) >= 1
        dirty = kpi_report(db, settings, since=START, until=END, by="day")
        want = raw_report(db, settings, START, END, "day", 30)
        same(dirty.to_json(), want.to_json(), "dirty")
        assert dirty.answered == before.answered - 1
        assert dirty.abandoned == before.abandoned + 1
    run = drain(sessions, options, now=NOW)
    assert run.dirty >= 1
    assert 1 <= run.hours <= 24 * 8  # its hour and the caller's next week, not everything
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(ReportDirty)) == 0
        after = kpi_report(db, settings, since=START, until=END, by="day")
        same(after.to_json(), want.to_json(), "drained")
        hours = db.scalar(
            select(func.sum(ReportAggregate.answered)).where(
                ReportAggregate.level == 1,
                ReportAggregate.dim == "",
                ReportAggregate.start >= START,
                ReportAggregate.start < END,
            )
        )
        assert hours == after.answered
        # the day cells were re-summed from the new hour cells
        every = [
            db.scalar(
                select(func.sum(ReportAggregate.answered)).where(
                    ReportAggregate.level == level, ReportAggregate.dim == ""
                )
            )
            for level in (0, 1, 2)
        ]
        assert every[0] == every[1] == every[2]


def test_rebuild_of_a_range_and_a_changed_threshold(
    sessions: sessionmaker[Session], db_url: str
) -> None:
    traffic(sessions, 5)
    settings = make_settings(db_url, None, timezone="Europe/Kyiv")
    drain(sessions, options_of(settings), now=NOW)
    day = START + timedelta(days=1)
    run = rebuild_range(sessions, options_of(settings), since=START, until=day, now=NOW)
    assert run.hours == 24
    other = make_settings(db_url, None, timezone="Europe/Kyiv", sl_threshold_seconds=10)
    with sessions() as db:  # cells counted at 20 s do not answer a 10 s report
        assert (
            aggregated_tallies(
                db,
                options_of(other),
                since=START,
                until=END,
                by="day",
                zone=ZoneInfo("Europe/Kyiv"),
                interval_minutes=30,
            )
            is None
        )
    run = drain(sessions, options_of(other), now=NOW)  # recounted with the new options
    assert run.hours >= DAYS * 24
    with sessions() as db:
        got = kpi_report(db, other, since=START, until=END, by="operator")
        same(got.to_json(), raw_report(db, other, START, END, "operator", 30).to_json())


SIX = "2026-10-25T06:00Z"


def test_the_aggregate_command(sessions: sessionmaker[Session], db_url: str) -> None:
    traffic(sessions, 6, calls=60)
    env = {**os.environ, "CALLAGENT_DATABASE_URL": db_url, "CALLAGENT_TIMEZONE": "Europe/Kyiv"}
    command = [sys.executable, "-m", "callagent", "report", "aggregate", "--json"]
    first = subprocess.run(command, env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    built = json.loads(first.stdout)
    # from the first record's day (UTC) up to the hour in progress, not into it
    now = datetime.now(UTC)
    assert built["horizon"] == now.replace(minute=0, second=0, microsecond=0).isoformat()
    assert built["covered_from"] <= START.isoformat()
    assert built["hours"] >= DAYS * 24
    again = json.loads(subprocess.run(command, env=env, capture_output=True, text=True).stdout)
    assert again["dirty"] == 0
    assert again["hours"] <= 1  # nothing changed: at most the hour that has just ended
    shared = subprocess.run(
        [*command, "--rebuild", "--jobs", "2"], env=env, capture_output=True, text=True
    )
    assert shared.returncode == 0, shared.stderr
    # every hour again, by two worker processes
    assert json.loads(shared.stdout)["hours"] >= built["hours"]
    ranged = subprocess.run(
        [
            *command,
            "--rebuild",
            "--since",
            "2026-10-25T00:00+02:00",
            "--until",
            "2026-10-25T06:00Z",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert ranged.returncode == 0, ranged.stderr
    assert json.loads(ranged.stdout)["hours"] == 8  # 22:00Z (local midnight) to 06:00Z
    wrong = subprocess.run(
        [*command, "--since", "2026-10-25T00:00Z"], env=env, capture_output=True, text=True
    )
    assert wrong.returncode == 2
    assert "--rebuild" in wrong.stderr


def test_changes_after_aggregation_recount_only_their_hours(
    sessions: sessionmaker[Session], db_url: str
) -> None:
    traffic(sessions, 7)
    settings = make_settings(db_url, None, timezone="Europe/Kyiv")
    options = options_of(settings)
    full = drain(sessions, options, now=NOW)
    with sessions.begin() as db:
        # a late-stored call of a frequent caller: the repeat flags of their next week
        caller = db.scalar(
            select(Call.caller_number)
            .where(Call.caller_number != "", Call.direction == "inbound")
            .group_by(Call.caller_number)
            .order_by(func.count().desc())
        )
        db.add(
            Call(
                node="pbx1",
                linkedid="late.1",
                direction="inbound",
                caller_number=caller,
                dialled_number="5000",
                started_at=START + timedelta(days=1, hours=3, minutes=7),
                ended_at=START + timedelta(days=1, hours=3, minutes=8),
                wait_seconds=60.0,
                disposition="abandoned",
                final=True,
                updated_at=NOW,
            )
        )
        # a pause in the middle of an operator's day, and an earlier end of a wrap-up
        # (its call's after-call work, in the call's own hour, is shorter now)
        user = db.scalar(select(OperatorStateChange.user_id).limit(1))
        db.add(
            OperatorStateChange(
                user_id=user,
                at=START + timedelta(days=2, hours=5, minutes=1, seconds=3),
                from_state="ready",
                to_state="paused",
                reason="break",
                cause="api",
            )
        )
        wrapups = db.execute(
            select(OperatorStateChange.user_id, OperatorStateChange.at, Call.started_at)
            .join(Call, OperatorStateChange.call == "pbx1:" + Call.linkedid)
            .where(OperatorStateChange.to_state == "wrap_up", OperatorStateChange.at >= START)
        ).all()
        for uid, at, offered in wrapups:
            if offered.hour == at.hour:  # the call's hour is not the wrap-up's
                continue
            following = db.scalar(
                select(func.min(OperatorStateChange.at)).where(
                    OperatorStateChange.user_id == uid, OperatorStateChange.at > at
                )
            )
            if following is not None and following - at > timedelta(seconds=60):
                db.add(
                    OperatorStateChange(
                        user_id=uid,
                        at=at + timedelta(seconds=30),
                        from_state="wrap_up",
                        to_state="ready",
                        reason="",
                        cause="api",
                    )
                )
                break
        else:
            pytest.fail("the traffic has no wrap-up over a minute: pick another seed")
    with sessions() as db:
        for by, interval in (("operator", 30), ("interval", 15), (None, 30)):
            got = kpi_report(db, settings, since=START, until=END, by=by, interval_minutes=interval)
            same(got.to_json(), raw_report(db, settings, START, END, by, interval).to_json())
    run = drain(sessions, options, now=NOW)
    assert run.dirty >= 3
    assert 3 <= run.hours < full.hours  # the changes' hours, not everything
    with sessions() as db:
        for by, interval in (("operator", 30), ("interval", 15), ("day", 30), (None, 30)):
            got = kpi_report(db, settings, since=START, until=END, by=by, interval_minutes=interval)
            same(got.to_json(), raw_report(db, settings, START, END, by, interval).to_json())


def _stored(sessions: sessionmaker[Session]) -> list[tuple[Any, ...]]:
    """Every stored cell and pause row, in key order."""
    with sessions() as db:
        cells = [
            tuple(row)
            for row in db.execute(
                select(ReportAggregate.__table__).order_by(
                    ReportAggregate.level,
                    ReportAggregate.dim,
                    ReportAggregate.start,
                    ReportAggregate.value,
                )
            )
        ]
        pauses = [
            tuple(row)
            for row in db.execute(
                select(ReportAggregatePause.__table__).order_by(
                    ReportAggregatePause.level,
                    ReportAggregatePause.dim,
                    ReportAggregatePause.start,
                    ReportAggregatePause.value,
                    ReportAggregatePause.reason,
                )
            )
        ]
    return cells + pauses


def test_a_rebuild_in_worker_processes_stores_the_same_cells(
    sessions: sessionmaker[Session], db_url: str
) -> None:
    traffic(sessions, 7)
    options = options_of(make_settings(db_url, None, timezone="Europe/Kyiv"))
    alone = drain(sessions, options, now=NOW, rebuild=True)
    assert alone.hours > HOURS_PER_RUN  # several weeks: workers had one each
    want = _stored(sessions)
    with sessions.begin() as db:  # a change the queue holds when the rebuild starts
        db.execute(update(Call).where(Call.id == 1).values(wait_seconds=1.0))
    shared = drain(sessions, options, now=NOW, rebuild=True, jobs=2)
    assert (shared.hours, shared.horizon) == (alone.hours, alone.horizon)
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(ReportDirty)) == 0
    with sessions.begin() as db:
        db.execute(update(Call).where(Call.id == 1).values(wait_seconds=None))
    drain(sessions, options, now=NOW, rebuild=True, jobs=2)
    got = _stored(sessions)
    assert len(got) == len(want) > 0
    for mine, theirs in zip(got, want, strict=True):
        numbers = [i for i, v in enumerate(theirs) if isinstance(v, float)]
        assert [v for i, v in enumerate(mine) if i not in numbers] == [
            v for i, v in enumerate(theirs) if i not in numbers
        ]  # the key, the counts
        assert [mine[i] for i in numbers] == pytest.approx([theirs[i] for i in numbers]), mine
