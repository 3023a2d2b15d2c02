"""The supervisors' call-back API over real HTTP on SQLite and PostgreSQL: the list by
status with counts, masking without calls:read_pii, reassigning (and its refusals), the
time-to-call-back KPI."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from callagent.auth.scopes import Scope
from callagent.callbacks.models import CallbackTask
from callagent.callbacks.service import submit
from tests.conftest import RunningService, make_token, running_service
from tests.test_callbacks_dialer import POLICY
from tests.test_routing import add_operators

ALWAYS = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
SETTINGS: dict[str, Any] = {"callback_dialer": "off", "callback_hours": ALWAYS}


def seed(service: RunningService) -> dict[str, int]:
    """Tasks in every interesting state: due, waiting (later window), overdue, done, failed."""
    now = datetime.now(UTC)
    ids: dict[str, int] = {}
    windows = {
        "due": (now - timedelta(minutes=5), now + timedelta(hours=2)),
        "waiting": (now + timedelta(hours=3), now + timedelta(hours=5)),
        "overdue": (now - timedelta(hours=3), now - timedelta(hours=1)),
        "done": (now - timedelta(minutes=30), now + timedelta(hours=1)),
        "failed": (now - timedelta(minutes=30), now + timedelta(hours=1)),
    }
    with service.app.state.sessions.begin() as session:  # type: ignore[attr-defined]
        for n, (name, (start, end)) in enumerate(windows.items()):
            created = now - timedelta(minutes=20)
            task = submit(
                session,
                policy=POLICY,
                name="Петренко Ольга",
                phone=f"+7916555000{n}",
                topic=name,
                window_from=start,
                window_to=end,
                language="uk",
                now=created,
            )
            assert task is not None
            ids[name] = task.id
        done = session.get(CallbackTask, ids["done"])
        assert done is not None
        done.status, done.attempts, done.last_result = "done", 1, "answered"
        done.answered_at = now - timedelta(minutes=20) + timedelta(seconds=300)
        failed = session.get(CallbackTask, ids["failed"])
        assert failed is not None
        failed.status, failed.attempts, failed.last_result = "failed", 3, "no_answer"
    return ids


async def test_the_supervisors_call_back_api(db_url: str) -> None:
    async with running_service(db_url, **SETTINGS) as service:
        client = service.client
        ids = seed(service)
        page = (await client.get("/api/v1/callbacks")).json()
        assert page["total"] == 5
        assert page["counts"] == {
            "waiting": 1,
            "due": 1,
            "calling": 0,
            "overdue": 1,
            "done": 1,
            "failed": 1,
        }
        by_topic = {item["topic"]: item for item in page["items"]}
        assert {t: by_topic[t]["status"] for t in by_topic} == {
            "due": "due",
            "waiting": "waiting",
            "overdue": "overdue",
            "done": "done",
            "failed": "failed",
        }
        assert by_topic["done"]["seconds_to_callback"] == 300.0
        assert by_topic["due"]["phone"] == "+79165550000"  # in the clear with the PII scope
        only = (await client.get("/api/v1/callbacks", params={"status": "overdue"})).json()
        assert [item["id"] for item in only["items"]] == [ids["overdue"]]

        # without calls:read_pii names and numbers are masked
        masked = make_token(service.app, frozenset({Scope.CALLBACKS_READ}), "no-pii")
        plain = (
            await client.get("/api/v1/callbacks", headers={"Authorization": f"Bearer {masked}"})
        ).json()
        one = next(item for item in plain["items"] if item["id"] == ids["due"])
        assert one["phone"] != "+79165550000" and "*" in one["phone"]
        assert one["name"] != "Петренко Ольга"
        # reading is not managing
        refused = await client.patch(
            f"/api/v1/callbacks/{ids['due']}",
            json={"operator_id": None},
            headers={"Authorization": f"Bearer {masked}"},
        )
        assert refused.status_code == 403

        # reassign to an operator; an overdue one gets a new window and is open again
        (op,) = add_operators(service, 1)
        moved = await client.patch(
            f"/api/v1/callbacks/{ids['due']}", json={"operator_id": op, "note": "knows it"}
        )
        assert moved.status_code == 200, moved.text
        assert (moved.json()["operator_id"], moved.json()["history"][-1]["result"]) == (
            op,
            "reassigned",
        )
        later = (datetime.now(UTC) + timedelta(hours=4)).isoformat()
        reopened = await client.patch(
            f"/api/v1/callbacks/{ids['overdue']}", json={"window_to": later}
        )
        assert reopened.json()["status"] == "due"
        # refusals: coded, nothing changed
        finished = await client.patch(f"/api/v1/callbacks/{ids['done']}", json={})
        assert (finished.status_code, finished.json()["code"]) == (409, "callback_finished")
        unknown = await client.patch(
            f"/api/v1/callbacks/{ids['waiting']}", json={"operator_id": 999}
        )
        assert (unknown.status_code, unknown.json()["code"]) == (422, "callback_operator_unknown")
        assert (await client.get(f"/api/v1/callbacks/{ids['waiting']}")).json()[
            "operator_id"
        ] is None
        missing = await client.get("/api/v1/callbacks/4242")
        assert missing.status_code == 404

        # the KPI of today's requests
        today = datetime.now(ZoneInfo(service.settings.timezone)).date()
        days = {"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()}
        figures = (await client.get("/api/v1/callbacks/kpi", params=days)).json()
        assert (figures["requested"], figures["reached"], figures["failed"]) == (5, 1, 1)
        assert figures["median_seconds"] == 300.0 and figures["open"] == 3
        # the CLI gives the same figures (for reports and cron)
        process = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).with_name("callagent")),
            *("callbacks", "kpi", "--json", "--from", days["from"], "--to", days["to"]),
            env={**os.environ, "CALLAGENT_DATABASE_URL": db_url},
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await process.communicate()
        assert process.returncode == 0
        assert json.loads(out) == {**figures, "first_day": days["from"], "last_day": days["to"]}
        audited = (await client.get("/api/v1/audit")).json()
        actions = {entry["action"] for entry in audited}
        assert {"callbacks.list", "callbacks.reassign"} <= actions
