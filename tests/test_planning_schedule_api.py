"""The schedule over real HTTP on SQLite and PostgreSQL: build a week for operators with
availability and a day off, read it, edit a break and a shift (and be refused when a
labour rule would break), publish, re-plan the breaks, export XLSX (audited), adherence
from the state history, the tables equal to migration 0017, and the CLI as a process."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from openpyxl import load_workbook

from callagent.auth.scopes import ROLE_SCOPES, Role, Scope
from callagent.auth.service import create_user
from callagent.db.models import Base, OperatorStateChange
from callagent.db.session import make_engine
from callagent.planning.models import OperatorAvailability, TimeOffRequest
from callagent.planning.rules import SLOTS_WEEK
from tests.conftest import make_token, running_service

ZONE = ZoneInfo("Europe/Kyiv")
SETTINGS: dict[str, object] = {"timezone": "Europe/Kyiv"}
MONDAY = date(2026, 11, 23)  # a past week: adherence reads its whole days
TABLES = {
    "shift_templates",
    "operator_availability",
    "time_off_requests",
    "schedules",
    "schedule_shifts",
    "schedule_breaks",
}


def need() -> list[int]:
    """4 agents 09:00-17:00, Monday to Friday."""
    required = [0] * SLOTS_WEEK
    for day in range(5):
        for slot in range(day * 96 + 36, day * 96 + 68):
            required[slot] = 4
    return required


def test_migration_0017_is_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert [d for d in diff if any(name in repr(d) for name in TABLES)] == []
    assert set(Base.metadata.tables) >= TABLES


async def test_the_schedule_api(db_url: str) -> None:
    async with running_service(db_url, **SETTINGS) as service:
        app = service.app
        with app.state.sessions() as db:  # type: ignore[attr-defined]
            ids = [
                create_user(db, login=f"op{k}", role=Role.OPERATOR, password=None).id
                for k in range(7)
            ]
            db.add(
                TimeOffRequest(
                    user_id=ids[0],
                    first_day=MONDAY,
                    last_day=MONDAY,
                    kind="day_off",
                    created_at=datetime.now(UTC),
                )
            )
            for weekday in range(5):  # op1: weekdays 10:00-19:00 only
                db.add(
                    OperatorAvailability(
                        user_id=ids[1], weekday=weekday, start_minute=600, end_minute=1140
                    )
                )
            db.commit()
        lead = make_token(app, ROLE_SCOPES[Role.SUPERVISOR], "lead")
        reader = make_token(app, frozenset({Scope.REPORTS_READ}), "reader")
        client = service.client
        auth = {"Authorization": f"Bearer {lead}"}
        refused = await client.post(
            "/api/v1/planning/schedule/build",
            json={"week_start": MONDAY.isoformat(), "required": need()},
            headers={"Authorization": f"Bearer {reader}"},
        )
        assert refused.status_code == 403
        tuesday = await client.post(
            "/api/v1/planning/schedule/build",
            json={"week_start": (MONDAY + timedelta(days=1)).isoformat(), "required": need()},
            headers=auth,
        )
        assert tuesday.status_code == 422 and "Monday" in tuesday.json()["detail"]
        built = await client.post(
            "/api/v1/planning/schedule/build",
            json={"week_start": MONDAY.isoformat(), "required": need(), "seconds": 10},
            headers=auth,
        )
        assert built.status_code == 200, built.text
        data = built.json()
        assert data["violations"] == []
        figures = data["figures"]
        assert figures["under_agent_slots"] >= figures["lower_bound_under"] == 0
        assert figures["under_agent_slots"] == 0  # 7 operators cover 4 agents with breaks
        by_login = {one["login"]: one for one in data["operators"]}
        assert all(s["day"] != 0 for s in by_login["op0"]["shifts"])  # the day off
        assert by_login["op0"]["days_off"] == [0]
        for shift in by_login["op1"]["shifts"]:
            assert shift["day"] < 5 and shift["from"] >= "10:00" and shift["to"] <= "19:00"
        assert sum(data["working"]) > 0 and len(data["required"]) == SLOTS_WEEK
        read = await client.get(
            "/api/v1/planning/schedule",
            params={"week": MONDAY.isoformat()},
            headers={"Authorization": f"Bearer {reader}"},
        )
        assert read.status_code == 200 and read.json()["operators"] == data["operators"]
        # a break moved by a quarter hour or two: allowed where the rules hold (else
        # refused, saying which), marked as edited
        shift = next(s for o in data["operators"] for s in o["shifts"] if s["template"] == "8h")
        done = None
        for first in [b for b in shift["breaks"] if b["kind"] == "break"]:
            for minutes in (-15, 15, -30, 30):
                moved_start = datetime.fromisoformat(first["start"]) + timedelta(minutes=minutes)
                moved = await client.patch(
                    f"/api/v1/planning/schedule/breaks/{first['id']}",
                    json={
                        "start": moved_start.isoformat(),
                        "end": (moved_start + timedelta(minutes=15)).isoformat(),
                    },
                    headers=auth,
                )
                if moved.status_code == 200:
                    done = (first["id"], moved_start, moved.json())
                    break
                assert moved.status_code == 422
                assert "without a break" in moved.json()["detail"]
            if done:
                break
        assert done is not None
        break_id, moved_start, answer = done
        again = next(
            b
            for o in answer["operators"]
            for s in o["shifts"]
            for b in s["breaks"]
            if b["id"] == break_id
        )
        assert again["edited"] and again["start"] == moved_start.isoformat()
        shift = next(s for o in answer["operators"] for s in o["shifts"] if s["id"] == shift["id"])
        # the lunch moved to the shift's first hour: out of its window, refused, unchanged
        lunch = next(b for b in shift["breaks"] if b["kind"] == "lunch")
        early = datetime.fromisoformat(shift["start"])
        broken = await client.patch(
            f"/api/v1/planning/schedule/breaks/{lunch['id']}",
            json={"start": early.isoformat(), "end": (early + timedelta(minutes=30)).isoformat()},
            headers=auth,
        )
        assert broken.status_code == 422 and "lunch" in broken.json()["detail"]
        kept = await client.get(
            "/api/v1/planning/schedule", params={"week": MONDAY.isoformat()}, headers=auth
        )
        assert lunch in [
            b for o in kept.json()["operators"] for s in o["shifts"] for b in s["breaks"]
        ]
        # a shift moved by hand (local times without a zone): its breaks placed again
        day = MONDAY + timedelta(days=shift["day"])
        resized = await client.patch(
            f"/api/v1/planning/schedule/shifts/{shift['id']}",
            json={"start": f"{day}T10:00", "end": f"{day}T18:00"},
            headers=auth,
        )
        assert resized.status_code == 200, resized.text
        new = next(
            s for o in resized.json()["operators"] for s in o["shifts"] if s["id"] == shift["id"]
        )
        assert (new["from"], new["to"], new["edited"]) == ("10:00", "18:00", True)
        assert [b["kind"] for b in new["breaks"]].count("lunch") == 1
        assert resized.json()["violations"] == []
        too_long = await client.patch(
            f"/api/v1/planning/schedule/shifts/{shift['id']}",
            json={"start": f"{day}T06:00", "end": f"{day}T23:00"},
            headers=auth,
        )
        assert too_long.status_code == 422
        # publish, then re-plan Monday's breaks from 12:00 for 1.5 × the volume
        published = await client.post(
            "/api/v1/planning/schedule/publish",
            json={"week_start": MONDAY.isoformat()},
            headers=auth,
        )
        assert published.status_code == 200
        proposal = await client.post(
            "/api/v1/planning/schedule/replan",
            json={"at": f"{MONDAY}T12:00", "factor": 1.5},
            headers=auth,
        )
        assert proposal.status_code == 200, proposal.text
        plan = proposal.json()
        assert plan["method"] == "scaled"  # no call history: the need scaled
        assert plan["under_after"] <= plan["under_before"] and not plan["applied"]
        for change in plan["changes"]:
            kept_before = [b for b in change["before"] if b["from"] < "12:00"]
            assert [b for b in change["after"] if b["from"] < "12:00"] == kept_before
        applied = await client.post(
            "/api/v1/planning/schedule/replan",
            json={"at": f"{MONDAY}T12:00", "factor": 1.5, "apply": True},
            headers=auth,
        )
        assert applied.json()["changes"] == plan["changes"]
        after = (
            await client.get(
                "/api/v1/planning/schedule", params={"week": MONDAY.isoformat()}, headers=auth
            )
        ).json()
        assert after["violations"] == []
        assert after["required"][36 + 12] == 6  # Monday 12:00: 4 × 1.5
        # XLSX: one row per operator, one column per day; audited
        export = await client.get(
            "/api/v1/planning/schedule/export",
            params={"week": MONDAY.isoformat(), "lang": "en"},
            headers=auth,
        )
        assert export.status_code == 200
        sheet = load_workbook(io.BytesIO(export.content)).active
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0][:3] == ("Operator", "Name", "23.11")
        assert len(rows) == 1 + 7
        op0 = next(r for r in rows if r[0] == "op0")
        assert op0[2] == "day off"
        assert any(isinstance(c, str) and "–" in c for r in rows[1:] for c in r[2:9])
        audit = (await client.get("/api/v1/audit")).json()
        assert audit[0]["action"] == "planning.schedule_export" and audit[0]["rows"] == 7
        # adherence: an operator of Monday logs in 10 minutes late and pauses off plan
        monday_shift = next(
            (o, s) for o in after["operators"] for s in o["shifts"] if s["day"] == 0
        )
        operator, planned = monday_shift
        start = datetime.fromisoformat(planned["start"])
        taken = [
            (datetime.fromisoformat(b["start"]), datetime.fromisoformat(b["end"]))
            for b in planned["breaks"]
        ]
        free = next(
            start + timedelta(minutes=m)
            for m in range(30, 400, 15)
            if not any(
                a - timedelta(minutes=15) <= start + timedelta(minutes=m) < b for a, b in taken
            )
        )
        with app.state.sessions() as db:  # type: ignore[attr-defined]
            for at, to_state, reason in (
                (start + timedelta(minutes=10), "ready", ""),
                (free, "paused", "coffee"),
                (free + timedelta(minutes=5), "ready", ""),
                (datetime.fromisoformat(planned["end"]), "offline", ""),
            ):
                db.add(
                    OperatorStateChange(
                        user_id=operator["id"],
                        at=at,
                        from_state="x",
                        to_state=to_state,
                        reason=reason,
                        cause="api",
                    )
                )
            db.commit()
        report = await client.get(
            "/api/v1/planning/adherence",
            params={"day": MONDAY.isoformat()},
            headers={"Authorization": f"Bearer {reader}"},
        )
        assert report.status_code == 200
        rows_by = {r["operator"]: r for r in report.json()["rows"]}
        mine = rows_by[operator["login"]]
        assert mine["late_seconds"] == 600 and mine["early_seconds"] == 0
        assert [e["kind"] for e in mine["exceptions"]] == ["unplanned"]
        assert 0.8 < mine["adherence"] < 1
        others = [r for r in rows_by.values() if r["operator"] != operator["login"]]
        assert others and all(r["absent"] for r in others)
        # the CLI reads the same week as a process
        env = {
            **os.environ,
            "CALLAGENT_DATABASE_URL": service.settings.database_url,
            "CALLAGENT_TIMEZONE": "Europe/Kyiv",
        }
        shown = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-m",
                "callagent",
                "plan",
                "schedule",
                "show",
                "--week",
                MONDAY.isoformat(),
                "--json",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["operators"] == after["operators"]
