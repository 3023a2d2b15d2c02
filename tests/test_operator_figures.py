"""An operator's own figures for today and this week (issue #12): the KPI engine's
handled, AHT and ACW over their phones' calls, their wrap-ups by category, missed ones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from callagent.auth.scopes import Role
from callagent.auth.service import create_user
from callagent.db.models import Call
from callagent.db.store import CallStore
from callagent.db.wrapup_models import Wrapup
from callagent.replay import replay_bytes
from callagent.reports.operator_figures import period_bounds
from tests.conftest import RunningService, running_service, trace_bytes

PASSWORD = "operator-password"


def test_today_and_this_week_on_the_centres_clock() -> None:
    moscow = ZoneInfo("Europe/Moscow")
    now = datetime(2026, 12, 3, 22, 30, tzinfo=UTC)  # Friday 01:30 in Moscow
    start, end = period_bounds("today", now, moscow)
    assert (start.isoformat(), end - start) == ("2026-12-04T00:00:00+03:00", timedelta(days=1))
    start, end = period_bounds("week", now, moscow)
    assert start.date() == date(2026, 11, 30) and start.weekday() == 0  # Monday
    assert end - start == timedelta(days=7)
    # a day when the clocks go forward is 23 hours long
    kyiv = ZoneInfo("Europe/Kyiv")
    start, end = period_bounds("today", datetime(2026, 3, 29, 12, tzinfo=UTC), kyiv)
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=23)
    with pytest.raises(ValueError, match="today, week"):
        period_bounds("year", now, moscow)


async def login(service: RunningService, name: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=service.base_url)
    response = await client.post("/api/v1/auth/login", json={"login": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return client


async def test_an_operator_sees_their_figures_and_only_theirs(db_url: str) -> None:
    async with running_service(db_url) as service:
        sessions = service.app.state.sessions  # type: ignore[attr-defined]
        with sessions.begin() as db:
            me = create_user(
                db,
                login="ivanova",
                role=Role.OPERATOR,
                password=PASSWORD,
                endpoints=["PJSIP/op1001"],
            )
            create_user(
                db,
                login="petrov",
                role=Role.OPERATOR,
                password=PASSWORD,
                endpoints=["PJSIP/op1002"],
            )
            db.flush()
            my_id = me.id
        # 50 real calls, op1001 and op1002 in turn, moved to an hour ago
        await replay_bytes(trace_bytes("load_50_calls"), CallStore(sessions))
        now = datetime.now(UTC)
        # an hour ago, or today's first second when the centre's day began less than an hour
        # ago: every call and wrap-up must fall on today (CI may run just after midnight)
        today, _ = period_bounds("today", now, ZoneInfo("Europe/Moscow"))
        anchor = max(now - timedelta(hours=1), today.astimezone(UTC) + timedelta(seconds=1))
        with sessions.begin() as db:
            first = db.scalar(select(Call.started_at).order_by(Call.started_at).limit(1))
            assert first is not None
            shift = anchor - first
            for call in db.scalars(select(Call)):
                call.started_at += shift
                call.answered_at = call.answered_at and call.answered_at + shift
                call.ended_at = call.ended_at and call.ended_at + shift
            mine = db.scalars(select(Call).where(Call.operator_endpoint == "PJSIP/op1001")).all()
            talk = sum(c.talk_seconds or 0.0 for c in mine)
            handled = len(mine)
            started = anchor + (now - anchor) / 2
            for n, (category, missed) in enumerate(
                [("consultation", False), ("consultation", False), ("pre_registration", True)]
            ):
                db.add(
                    Wrapup(
                        call_key=f"pbx1:{mine[n].linkedid}",
                        operator_id=my_id,
                        status="submitted",
                        category=category,
                        fields={},
                        started_at=started,
                        deadline=started,
                        missed_at=started if missed else None,
                        submitted_at=started,
                        updated_at=started,
                    )
                )
            db.add(
                Wrapup(
                    call_key=f"pbx1:{mine[3].linkedid}",
                    operator_id=my_id,
                    status="missed",
                    fields={},
                    started_at=started,
                    deadline=started,
                    missed_at=started,
                    updated_at=started,
                )
            )
        assert handled == 25
        ivanova = await login(service, "ivanova")
        got = await ivanova.get(f"/api/v1/reports/operators/{my_id}/figures")
        assert got.status_code == 200, got.text
        for period in ("today", "week"):
            figures = got.json()[period]
            assert figures["handled"] == handled
            assert figures["talk_seconds"] == pytest.approx(talk)
            assert figures["aht_seconds"] == pytest.approx(talk / handled)
            assert figures["categories"] == {"consultation": 2, "pre_registration": 1}
            assert (figures["wrapups_submitted"], figures["wrapups_missed"]) == (3, 2)
        petrov = await login(service, "petrov")
        denied = await petrov.get(f"/api/v1/reports/operators/{my_id}/figures")
        assert denied.status_code == 403
        with sessions.begin() as db:  # yesterday's calls are not today's
            for call in db.scalars(select(Call)):
                call.started_at -= timedelta(days=1)
        again = (await ivanova.get(f"/api/v1/reports/operators/{my_id}/figures")).json()
        assert again["today"]["handled"] == 0
        for client in (ivanova, petrov):
            await client.aclose()
