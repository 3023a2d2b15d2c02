"""A page's period picked from any date a hand-edited address can hold.

The calls and reports pages take ``from``/``to`` days; a year 1 or 9999 typed into the
address used to overflow the date arithmetic (500). They are brought within 2000-2099.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import httpx

from callagent.auth.scopes import Role
from callagent.auth.service import create_user
from callagent.reports.periods import EARLIEST_DAY, LATEST_DAY, picked_days
from tests.conftest import running_service

KYIV = ZoneInfo("Europe/Kyiv")


def test_the_ends_of_the_calendar_are_brought_within_the_range() -> None:
    first, last, since, until = picked_days(date(1, 1, 1), date(9999, 12, 31), KYIV)
    assert (first, last) == (EARLIEST_DAY, LATEST_DAY)
    assert since < until
    first, last, _, _ = picked_days(date(9999, 12, 31), None, KYIV, longest=31)
    assert (first, last) == (LATEST_DAY, LATEST_DAY)
    # an ordinary period is what was picked
    assert picked_days(date(2026, 3, 29), date(2026, 3, 29), KYIV)[:2] == (
        date(2026, 3, 29),
        date(2026, 3, 29),
    )


async def test_the_pages_answer_for_any_year(db_url: str) -> None:
    async with running_service(db_url) as service:
        with service.app.state.sessions() as session:  # type: ignore[attr-defined]
            create_user(session, login="boss", role=Role.SUPERVISOR, password="boss-password")
            session.commit()
        async with httpx.AsyncClient(base_url=service.base_url) as client:
            login = await client.post(
                "/api/v1/auth/login", json={"login": "boss", "password": "boss-password"}
            )
            assert login.status_code == 200
            for path in ("/calls", "/supervisor/reports"):
                for query in ("from=0001-01-01&to=9999-12-31", "from=9999-12-31"):
                    page = await client.get(f"{path}?{query}")
                    assert page.status_code == 200, (path, query, page.text[:200])
                    assert "2099" in page.text or "2000" in page.text
