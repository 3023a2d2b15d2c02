"""A group's supervisor sees their group's call-backs (issue #13), on SQLite and PostgreSQL
over real HTTP sessions: those given to or last taken by one of the group's operators and
those nobody has taken yet; another group's task is not listed, not counted, not shown
(403) and not reassigned (403, nothing changed); the page lists the same; the
time-to-call-back KPI (API, the call-backs page, the reports page) counts the group's
requests; a supervisor without a group sees every task."""

from __future__ import annotations

import re

import httpx

from callagent.auth.scopes import Role
from callagent.auth.service import create_user
from callagent.callbacks.models import CallbackTask
from tests.conftest import RunningService, running_service
from tests.test_callbacks_api import SETTINGS, seed
from tests.test_security import _login

PASSWORD = "callbacks-group-password"


def people(service: RunningService) -> dict[str, int]:
    with service.app.state.sessions.begin() as db:  # type: ignore[attr-defined]
        made = {
            "north_op": create_user(db, login="n1", role=Role.OPERATOR, password=None,
                                    endpoints=["PJSIP/op1001"], group="north"),
            "south_op": create_user(db, login="s1", role=Role.OPERATOR, password=None,
                                    endpoints=["PJSIP/op1002"], group="south"),
            "lead": create_user(db, login="lead", role=Role.SUPERVISOR, password=PASSWORD,
                                group="north"),
            "chief": create_user(db, login="chief", role=Role.SUPERVISOR, password=PASSWORD),
        }  # fmt: skip
        db.flush()
        return {name: user.id for name, user in made.items()}


def tab_count(html: str, status: str) -> int:
    """The count on the page's tab of ``status``."""
    found = re.search(rf'data-status="{status}"[^>]*>[^<]*<span class="count">(\d+)<', html)
    assert found is not None, status
    return int(found.group(1))


async def test_a_groups_supervisor_sees_the_groups_call_backs(db_url: str) -> None:
    async with running_service(db_url, **SETTINGS) as service:
        ids = people(service)
        tasks = seed(service)  # due, waiting, overdue, done, failed: nobody's yet
        with service.app.state.sessions.begin() as db:  # type: ignore[attr-defined]
            given = db.get(CallbackTask, tasks["due"])
            taken = db.get(CallbackTask, tasks["done"])
            foreign = db.get(CallbackTask, tasks["failed"])
            assert given is not None and taken is not None and foreign is not None
            given.operator_id = ids["north_op"]  # given to the north
            taken.last_operator_id = ids["north_op"]  # the north called
            foreign.last_operator_id = ids["south_op"]  # the south called
        mine = sorted([tasks["due"], tasks["waiting"], tasks["overdue"], tasks["done"]])
        async with (
            httpx.AsyncClient(base_url=service.base_url) as lead,
            httpx.AsyncClient(base_url=service.base_url) as chief,
        ):
            csrf = (await _login(lead, "lead", PASSWORD)).json()["csrf_token"]
            await _login(chief, "chief", PASSWORD)
            page = (await lead.get("/api/v1/callbacks")).json()
            assert sorted(item["id"] for item in page["items"]) == mine
            assert page["total"] == 4
            assert page["counts"]["failed"] == 0 and page["counts"]["done"] == 1
            failed = (await lead.get("/api/v1/callbacks", params={"status": "failed"})).json()
            assert failed["items"] == [] and failed["total"] == 0
            shown = await lead.get(f"/api/v1/callbacks/{tasks['failed']}")
            assert (shown.status_code, shown.json()["code"]) == (403, "callback_not_your_group")
            assert (await lead.get(f"/api/v1/callbacks/{tasks['due']}")).status_code == 200
            moved = await lead.patch(
                f"/api/v1/callbacks/{tasks['failed']}",
                json={"operator_id": ids["north_op"]},
                headers={"X-CSRF-Token": csrf},
            )
            assert (moved.status_code, moved.json()["code"]) == (403, "callback_not_your_group")
            with service.app.state.sessions() as db:  # type: ignore[attr-defined]
                kept = db.get(CallbackTask, tasks["failed"])
                assert kept is not None and kept.operator_id is None  # nothing changed
            # the page: the same tasks, the same counts
            html = (await lead.get("/supervisor/callbacks", headers={"Accept": "text/html"})).text
            for task_id in mine:
                assert f'data-task="{task_id}"' in html
            assert f'data-task="{tasks["failed"]}"' not in html
            assert tab_count(html, "failed") == 0 and tab_count(html, "done") == 1
            # the time to call back: the group's requests (the south's failed one left
            # out), in the API, on the call-backs page and on the reports page
            kpi = (await lead.get("/api/v1/callbacks/kpi")).json()
            assert (kpi["requested"], kpi["reached"], kpi["failed"]) == (4, 1, 0)
            assert 'data-figure="requested">4<' in html
            assert 'data-figure="failed">0<' in html
            reports = await lead.get("/supervisor/reports", headers={"Accept": "text/html"})
            assert reports.status_code == 200
            shown = reports.text[reports.text.index('id="callbacks-kpi"') :]
            assert 'data-figure="requested">4<' in shown and 'data-figure="failed">0<' in shown
            # a supervisor without a group: every task
            everything = (await chief.get("/api/v1/callbacks")).json()
            assert everything["total"] == 5 and everything["counts"]["failed"] == 1
            chief_html = (
                await chief.get("/supervisor/callbacks", headers={"Accept": "text/html"})
            ).text
            assert f'data-task="{tasks["failed"]}"' in chief_html
            assert tab_count(chief_html, "failed") == 1
            assert (await chief.get("/api/v1/callbacks/kpi")).json()["requested"] == 5
            assert 'data-figure="requested">5<' in chief_html
