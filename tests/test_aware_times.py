"""Times sent to the API need their offset, declared once (AwareTime): the same 422 that says
how to write one, for query parameters and bodies alike, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import running_service
from tests.test_wrapups_api import add_user, browser

NAIVE = "2026-11-23T09:00:00"
AWARE = "2026-11-23T09:00:00+03:00"


def _zone_error(response: httpx.Response, where: list[str]) -> None:
    """A 422 naming the parameter, saying a time zone is missing and how to give one."""
    assert response.status_code == 422, response.text
    errors: list[dict[str, Any]] = response.json()["detail"]
    (error,) = [e for e in errors if e["loc"] == where]
    assert error["type"] == "timezone_aware"
    assert "time zone" in error["msg"] and "2026-11-23T09:00:00+03:00" in error["msg"]


async def test_times_without_an_offset_are_refused_everywhere(db_url: str) -> None:
    async with running_service(db_url) as service:
        client = service.client
        for url, name in (
            ("/api/v1/calls", "since"),
            ("/api/v1/calls", "until"),
            ("/api/v1/wrapups", "since"),
            ("/api/v1/wrapups", "until"),
            ("/api/v1/questions", "due_before"),
        ):
            _zone_error(await client.get(url, params={name: NAIVE}), ["query", name])
            accepted = await client.get(url, params={name: AWARE})
            assert accepted.status_code == 200, (url, name, accepted.text)

        add_user(service, "ivanova", endpoint="PJSIP/op1001")
        ivanova = await browser(service, "ivanova")
        question = {"text": "Когда перезвонить?", "preferred_time": NAIVE}
        _zone_error(
            await ivanova.post("/api/v1/questions", json=question), ["body", "preferred_time"]
        )
        made = await ivanova.post("/api/v1/questions", json={**question, "preferred_time": AWARE})
        assert made.status_code == 201, made.text
        url = f"/api/v1/questions/{made.json()['id']}"
        _zone_error(
            await ivanova.patch(url, json={"preferred_time": NAIVE}), ["body", "preferred_time"]
        )
        cleared = await ivanova.patch(url, json={"preferred_time": None})
        assert cleared.status_code == 200 and cleared.json()["preferred_time"] is None
        await ivanova.aclose()

        token = {"name": "crm", "scopes": ["calls:read"]}
        naive = await client.post(
            "/api/v1/tokens", json={**token, "expires_at": "2099-01-01T00:00"}
        )
        _zone_error(naive, ["body", "expires_at"])
        past = await client.post(
            "/api/v1/tokens", json={**token, "expires_at": "2020-01-01T00:00Z"}
        )
        assert past.status_code == 422 and "must be in the future" in past.text
        later = await client.post(
            "/api/v1/tokens", json={**token, "expires_at": "2099-01-01T00:00Z"}
        )
        assert later.status_code == 201, later.text
