"""Teams in the schedule over real HTTP on SQLite and PostgreSQL: four weeks of calls
answered 3 to 1 by two teams' phones give the shares (measured from the calls), each
team's need is Erlang C for its share of the forecast volume, each team's shifts go to
its own operators, the figures per team and for the whole, a team's supervisor sees
their team, and a need given per team."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta

from callagent.auth.scopes import Role
from callagent.auth.service import create_user
from callagent.planning.erlang import Target, agents_erlang_c, scheduled_staff
from callagent.planning.rules import SLOTS_WEEK
from tests.conftest import running_service
from tests.test_calls_page import session_of
from tests.test_planning_api import SETTINGS, _today, seed

PHONES = ("PJSIP/a1", "PJSIP/a1", "PJSIP/a1", "PJSIP/b1")  # team A answers 3 calls of 4


async def test_a_week_built_per_team(db_url: str) -> None:
    async with running_service(db_url, **SETTINGS) as service:
        app = service.app
        today = await _today()
        monday = today + timedelta(days=7 - today.weekday())
        with app.state.sessions.begin() as db:  # type: ignore[attr-defined]
            for k in range(5):
                create_user(
                    db,
                    login=f"a{k}",
                    role=Role.OPERATOR,
                    password=None,
                    group="A",
                    endpoints=[f"PJSIP/a{k}"] if k == 1 else [],
                )
            for k in range(3):
                create_user(
                    db,
                    login=f"b{k}",
                    role=Role.OPERATOR,
                    password=None,
                    group="B",
                    endpoints=[f"PJSIP/b{k}"] if k == 1 else [],
                )
            create_user(
                db, login="lead_b", role=Role.SUPERVISOR, password="lead_b-password", group="B"
            )
        seed(app.state.sessions, [today - timedelta(days=d) for d in range(28, 0, -1)], PHONES)
        client = service.client
        built = await client.post(
            "/api/v1/planning/schedule/build",
            json={"week_start": monday.isoformat(), "seconds": 10},
        )
        assert built.status_code == 200, built.text
        data = built.json()
        assert data["violations"] == []
        teams = {t["team"]: t for t in data["teams"]}
        assert set(teams) == {"A", "B"}
        assert (teams["A"]["share"], teams["B"]["share"]) == (0.75, 0.25)
        assert teams["A"]["share_source"] == "calls"
        # each team's need: Erlang C for its share of the forecast volume
        forecast = await client.get(
            "/api/v1/planning/forecast", params={"start": monday.isoformat(), "days": 7}
        )
        target = Target(service_level=0.8, threshold=20.0, max_occupancy=0.85)
        busiest = max(forecast.json()["intervals"], key=lambda one: one["offered"])
        slot = (
            (int(busiest["start"][8:10]) - monday.day) % 7 * 96
            + int(busiest["start"][11:13]) * 4
            + int(busiest["start"][14:16]) // 15
        )
        for team, share in (("A", 0.75), ("B", 0.25)):
            agents = agents_erlang_c(
                busiest["offered"] * share, busiest["aht_seconds"], 1800, target
            ).agents
            assert teams[team]["required"][slot] == scheduled_staff(agents, [0.05, 0.08])
        assert data["required"] == [
            a + b for a, b in zip(teams["A"]["required"], teams["B"]["required"], strict=True)
        ]
        # the teams' needs add up to more than one pool of the same calls would need
        pooled = agents_erlang_c(busiest["offered"], busiest["aht_seconds"], 1800, target).agents
        assert data["required"][slot] > scheduled_staff(pooled, [0.05, 0.08])
        # each team's shifts are its own operators'
        team_of = {o["login"]: o["team"] for o in data["operators"]}
        assert team_of == {**{f"a{k}": "A" for k in range(5)}, **{f"b{k}": "B" for k in range(3)}}
        for team in ("A", "B"):
            assert len(teams[team]["working"]) == SLOTS_WEEK
            assert teams[team]["operators"] == (5 if team == "A" else 3)
            assert teams[team]["shifts"] == sum(
                len(o["shifts"]) for o in data["operators"] if team_of[o["login"]] == team
            )
            assert teams[team]["shifts"] > 0
            assert teams[team]["under_agent_slots"] >= teams[team]["lower_bound_under"]
        figures = data["figures"]
        assert figures["under_agent_slots"] == sum(t["under_agent_slots"] for t in teams.values())
        assert figures["lower_bound_under"] == sum(t["lower_bound_under"] for t in teams.values())
        # a team's supervisor sees their team: operators and figures
        async with session_of(service, "lead_b") as lead:
            theirs = await lead.get(
                "/api/v1/planning/schedule", params={"week": monday.isoformat()}
            )
        assert theirs.status_code == 200
        assert [t["team"] for t in theirs.json()["teams"]] == ["B"]
        assert {o["login"] for o in theirs.json()["operators"]} == {"b0", "b1", "b2"}
        # a need given per team: B alone needs 2 agents Monday 09:00-17:00, A nothing
        need_b = [0] * SLOTS_WEEK
        for s in range(36, 68):
            need_b[s] = 2
        given = await client.post(
            "/api/v1/planning/schedule/build",
            json={
                "week_start": monday.isoformat(),
                "required_by_team": {"B": need_b, "A": [0] * SLOTS_WEEK},
                "seconds": 5,
            },
        )
        assert given.status_code == 200, given.text
        answer = given.json()
        assert {t["team"]: t["share_source"] for t in answer["teams"]} == {
            "A": "given",
            "B": "given",
        }
        assert {o["login"][0] for o in answer["operators"] if o["shifts"]} == {"b"}
        assert answer["figures"]["under_agent_slots"] == 0
        unknown = await client.post(
            "/api/v1/planning/schedule/build",
            json={"week_start": monday.isoformat(), "required_by_team": {"C": need_b}},
        )
        assert unknown.status_code == 422 and "C" in unknown.json()["detail"]
        # a re-plan places each team's breaks for its team's need (B: all the calls now,
        # A: none), never worse than before
        replan = await client.post(
            "/api/v1/planning/schedule/replan",
            json={"at": f"{monday}T12:00", "factor": 1.0},
        )
        assert replan.status_code == 200, replan.text
        moved = replan.json()
        assert moved["method"] == "erlang"
        assert moved["under_after"] <= moved["under_before"]
        ids = {o["id"]: o["login"] for o in answer["operators"]}
        assert all(ids[c["operator"]].startswith("b") for c in moved["changes"])
        # the CLI shows the teams' figures
        env = {
            **os.environ,
            "CALLAGENT_DATABASE_URL": service.settings.database_url,
            "CALLAGENT_TIMEZONE": SETTINGS["timezone"],
        }
        shown = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "callagent", "plan", "schedule", "show", "--week", f"{monday}"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert shown.returncode == 0, shown.stderr
        assert "team B: share 100 % (given), 3 operators, need 64, under 0" in shown.stdout
