"""The planning API and CLI over real HTTP, on stored calls in SQLite and PostgreSQL:
four weeks of a regular pattern give an exact forecast, an exact backtest, the
measured patience, Erlang C and A staffing, adjustments, scopes and refusals."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy.orm import Session, sessionmaker

from callagent.auth.scopes import Role, Scope
from callagent.auth.service import create_user
from callagent.db.models import Call
from callagent.planning.erlang import Target, agents_erlang_a, agents_erlang_c, scheduled_staff
from tests.conftest import make_token, running_service

ZONE = ZoneInfo("Europe/Kyiv")
SETTINGS = {
    "timezone": "Europe/Kyiv",
    "planning_history_weeks": 4,
    "planning_backtest_weeks": 1,
    "planning_interval_minutes": 30,
    "planning_sl_target": 0.8,
    "planning_max_occupancy": 0.85,
    "sl_threshold_seconds": 20.0,
}
ENV = {f"CALLAGENT_{k.upper()}": str(v) for k, v in SETTINGS.items()}
WEEKDAY_SLOT = 10  # calls per 30 minutes, Monday to Friday 09:00-18:00
WEEKEND_SLOT = 2  # Saturday and Sunday 10:00-14:00
AHT = 150.0


def pattern(day: date) -> list[tuple[datetime, bool]]:
    """The calls of one day: (offered at, answered); every 5th call of a slot abandons."""
    if day.weekday() < 5:
        slots, per = range(18, 36), WEEKDAY_SLOT
    else:
        slots, per = range(20, 28), WEEKEND_SLOT
    calls = []
    for slot in slots:
        start = datetime.combine(day, datetime.min.time(), tzinfo=ZONE) + timedelta(
            minutes=30 * slot
        )
        calls += [(start + timedelta(seconds=170 * k), k % 5 != 4) for k in range(per)]
    return calls


def seed(
    sessions: sessionmaker[Session], days: list[date], phones: tuple[str, ...] = ("PJSIP/op1001",)
) -> tuple[float, int]:
    """The days' calls stored as the tracker stores them, answered by ``phones`` in turn;
    (sum of waits, abandons)."""
    waits, abandons = 0.0, 0
    with sessions.begin() as db:
        for day in days:
            for n, (at, answered) in enumerate(pattern(day)):
                wait = 10.0 if answered else 40.0
                waits += wait
                abandons += not answered
                picked = at + timedelta(seconds=wait)
                ended = picked + timedelta(seconds=AHT if answered else 0)
                db.add(
                    Call(
                        node="pbx1",
                        linkedid=f"{day.isoformat()}-{n}",
                        direction="inbound",
                        caller_number=f"+38050{n:07d}",
                        dialled_number="5000",
                        started_at=at,
                        answered_at=picked if answered else None,
                        ended_at=ended,
                        wait_seconds=wait,
                        talk_seconds=AHT if answered else None,
                        operator_endpoint=phones[n % len(phones)] if answered else None,
                        disposition="answered" if answered else "abandoned",
                        final=True,
                        updated_at=ended,
                    )
                )
    return waits, abandons


async def _today() -> date:
    """Today on the centre's clock, not within two minutes of its end (the history
    would move a day under the test)."""
    now = datetime.now(ZONE)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), ZONE)
    if midnight - now < timedelta(minutes=2):
        await asyncio.sleep((midnight - now).total_seconds() + 1)
    return datetime.now(ZONE).date()


async def test_forecast_and_staffing_from_stored_calls(db_url: str) -> None:
    async with running_service(db_url, **SETTINGS) as service:
        today = await _today()
        days = [today - timedelta(days=d) for d in range(28, 0, -1)]
        waits, abandons = seed(service.app.state.sessions, days)
        token = make_token(service.app, frozenset({Scope.REPORTS_READ}), "planner")
        headers = {"Authorization": f"Bearer {token}"}
        start = today + timedelta(days=1)
        answer = await service.client.get(
            "/api/v1/planning/forecast",
            params={"start": start.isoformat(), "days": 7},
            headers=headers,
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["history"] == {
            "first": days[0].isoformat(),
            "last": days[-1].isoformat(),
            "calls": sum(len(pattern(d)) for d in days),
        }
        assert len(body["intervals"]) == 7 * 48
        # four identical weeks: every interval is forecast exactly, AHT exactly
        for one in body["intervals"]:
            at = datetime.fromisoformat(one["start"])
            half_hour = at + timedelta(minutes=30)
            expected = sum(1 for t, _ in pattern(at.date()) if at <= t < half_hour)
            assert one["offered"] == expected, one
            assert one["aht_seconds"] == AHT
        totals = {d["day"]: d["offered"] for d in body["totals"]}
        assert totals[start.isoformat()] == len(pattern(start))
        # the backtest: the last week forecast from the three before it, exactly
        accuracy = body["accuracy"]
        assert accuracy["weeks"] == 1 and accuracy["wmape_day"] == 0.0
        assert accuracy["wmape_interval"] == 0.0
        assert [d["day"] for d in accuracy["days"]] == [d.isoformat() for d in days[-7:]]

        # staffing: Erlang C and A per interval, patience measured from the abandons
        answer = await service.client.get(
            "/api/v1/planning/staffing",
            params={"start": start.isoformat(), "days": 7},
            headers=headers,
        )
        assert answer.status_code == 200, answer.text
        staffing = answer.json()
        patience = waits / abandons
        assert staffing["patience_measured"] is True
        assert staffing["patience_seconds"] == round(patience, 4)
        assert staffing["shrinkage"]["total"] == 0.23
        target = Target(service_level=0.8, threshold=20, max_occupancy=0.85)
        busy = next(one for one in staffing["intervals"] if one["offered"] == WEEKDAY_SLOT)
        c = agents_erlang_c(WEEKDAY_SLOT, AHT, 1800, target)
        a = agents_erlang_a(WEEKDAY_SLOT, AHT, 1800, target, patience)
        assert busy["erlang_c"]["agents"] == c.agents
        assert busy["erlang_c"]["staff"] == scheduled_staff(c.agents, [0.10, 0.05, 0.08])
        assert busy["erlang_a"]["agents"] == a.agents
        assert busy["erlang_c"]["service_level"] >= 0.8
        assert busy["erlang_c"]["occupancy"] <= 0.85
        night = staffing["intervals"][0]
        assert night["offered"] == 0 and night["erlang_c"]["agents"] == 0

        # a planner's adjustment: 10:00-11:00 of the first day doubled plus 5 calls,
        # and a stricter target asked for
        ten = datetime.combine(start, datetime.min.time()) + timedelta(hours=10)
        adjusted = (
            await service.client.get(
                "/api/v1/planning/staffing",
                params={
                    "start": start.isoformat(),
                    "days": 1,
                    "adjust": f"{ten.isoformat()}/{(ten + timedelta(hours=1)).isoformat()},2,5",
                    "service_level": 0.95,
                    "threshold": 10,
                    "patience": 60,
                },
                headers=headers,
            )
        ).json()
        rows = adjusted["intervals"]  # 48 half hours: 10:00 is the 20th
        assert rows[20]["start"].startswith(f"{start.isoformat()}T10:00")
        base = WEEKDAY_SLOT if start.weekday() < 5 else WEEKEND_SLOT
        assert rows[20]["offered"] == 2 * base + 5 and rows[21]["offered"] == 2 * base + 5
        assert adjusted["patience_measured"] is False and adjusted["patience_seconds"] == 60
        strict = Target(service_level=0.95, threshold=10, max_occupancy=0.85)
        want = agents_erlang_c(2 * base + 5, AHT, 1800, strict).agents
        assert rows[20]["erlang_c"]["agents"] == want

        # the CLI prints what the API answers
        env = {**os.environ, **ENV, "CALLAGENT_DATABASE_URL": service.settings.database_url}
        done = subprocess.run(  # noqa: ASYNC221 - the CLI as cron runs it
            [
                sys.executable,
                "-m",
                "callagent",
                "plan",
                "staffing",
                "--start",
                start.isoformat(),
                "--json",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == staffing
        table = subprocess.run(  # noqa: ASYNC221
            [sys.executable, "-m", "callagent", "plan", "forecast", "--start", start.isoformat()],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert table.returncode == 0, table.stderr
        assert "wMAPE per day 0.0 %" in table.stdout


async def test_refusals(db_url: str) -> None:
    async with running_service(db_url, **SETTINGS) as service:
        today = await _today()
        client = service.client
        # nothing stored: a clear 422, not a forecast of zeros with a perfect score
        empty = await client.get("/api/v1/planning/forecast")
        assert empty.status_code == 422
        assert "no inbound calls" in empty.json()["detail"]
        seed(service.app.state.sessions, [today - timedelta(days=d) for d in range(3, 0, -1)])
        short = await client.get("/api/v1/planning/forecast")
        assert short.status_code == 422 and "full week" in short.json()["detail"]
        for params, words in [
            ({"interval": 45}, "15, 30 or 60"),
            ({"adjust": "tomorrow"}, "START/END"),
            ({"adjust": "2026-12-07T10:00/2026-12-07T11:00,-1"}, "≥ 0"),
            ({"days": 0}, ""),
            ({"days": 29}, ""),
        ]:
            answer = await client.get("/api/v1/planning/staffing", params=params)
            assert answer.status_code == 422, (params, answer.text)
            assert words in json.dumps(answer.json(), ensure_ascii=False)
        token = make_token(service.app, frozenset({Scope.CALLS_READ}), "no-reports")
        for path in ("/api/v1/planning/forecast", "/api/v1/planning/staffing"):
            denied = await client.get(path, headers={"Authorization": f"Bearer {token}"})
            assert denied.status_code == 403


async def test_a_team_supervisor_plans_for_their_team_s_calls(db_url: str) -> None:
    """As in the reports: the calls their operators' phones answered, and the unanswered."""
    async with running_service(db_url, **SETTINGS) as service:
        today = await _today()
        days = [today - timedelta(days=d) for d in range(8, 0, -1)]
        sessions = service.app.state.sessions
        seed(sessions, days, phones=("PJSIP/op1001", "PJSIP/op1002"))
        with sessions.begin() as db:
            create_user(
                db,
                login="ivanova",
                role=Role.OPERATOR,
                password=None,
                group="A",
                endpoints=["PJSIP/op1001"],
            )
            create_user(
                db,
                login="petrov",
                role=Role.OPERATOR,
                password=None,
                group="B",
                endpoints=["PJSIP/op1002"],
            )
            create_user(db, login="lead", role=Role.SUPERVISOR, password="lead-password", group="A")
        theirs = sum(
            1
            for day in days
            for n, (_, answered) in enumerate(pattern(day))
            if not answered or n % 2 == 0
        )
        everyone = sum(len(pattern(day)) for day in days)
        assert 0 < theirs < everyone
        async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as lead:
            signed_in = await lead.post(
                "/api/v1/auth/login", json={"login": "lead", "password": "lead-password"}
            )
            assert signed_in.status_code == 200, signed_in.text
            team = await lead.get("/api/v1/planning/staffing", params={"days": 1})
        assert team.status_code == 200, team.text
        assert team.json()["history"]["calls"] == theirs
        whole = await service.client.get("/api/v1/planning/forecast", params={"days": 1})
        assert whole.json()["history"]["calls"] == everyone
