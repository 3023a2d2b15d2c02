"""Issue #15 point 4 and the times of point 11: no request stores what breaks a list for
everyone, and a row stored before the check is listed repaired (SQLite, PostgreSQL).

Real HTTP on 127.0.0.1 to the whole service; the bodies are sent as raw bytes, since
a client library would refuse to encode a lone surrogate itself.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from callagent.db.campaign_models import Campaign
from callagent.db.wrapup_models import Wrapup
from callagent.jsonsafe import MAX_JSON_DEPTH, TOO_DEEP, json_problems, load_stored_json
from tests.conftest import RunningService, running_service
from tests.test_wrapups_api import add_user, browser, call_ends_with

JSON = {"content-type": "application/json"}
LONE = '"\\ud800x"'  # the JSON text of a lone high surrogate followed by x


def nested(levels: int) -> dict[str, Any]:
    """``{"a": {"a": ... {"text": "x"}}}``, ``levels`` objects deep below the top."""
    value: dict[str, Any] = {"text": "x"}
    for _ in range(levels):
        value = {"a": value}
    return value


async def pending_wrapup(service: RunningService) -> tuple[httpx.AsyncClient, int]:
    """An operator's browser and the id of their pending wrap-up after a real call."""
    op = add_user(service, "ivanova", endpoint="PJSIP/op1001")
    await call_ends_with(service, op)
    page = await browser(service, "ivanova")
    (pending,) = (await page.get("/api/v1/wrapups/pending")).json()
    return page, pending["id"]


def submission(comment_json: str) -> bytes:
    return (
        '{"category": "consultation", "fields": {"service": "passport", '
        f'"result": "answered", "comment": {comment_json}}}}}'
    ).encode()


async def test_a_lone_surrogate_is_refused_and_nothing_is_stored(db_url: str) -> None:
    async with running_service(db_url) as service:
        page, wrapup_id = await pending_wrapup(service)
        try:
            url = f"/api/v1/wrapups/{wrapup_id}/submit"
            answer = await page.post(url, content=submission(LONE), headers=JSON)
            # old code: 500, and the comment stored
            assert answer.status_code == 422, answer.text
            (problem,) = answer.json()["detail"]
            assert problem["loc"] == ["body", "fields", "comment"]
            assert problem["type"] == "lone_surrogate"
            assert problem["msg"].startswith("fields.comment: ")
            assert "суррогат" in problem["msg"]  # Russian by default, as the wrap-up API
            for language, word in (("uk", "сурогат"), ("en", "surrogate")):
                asked = await page.post(
                    url,
                    content=submission(LONE),
                    headers={**JSON, "Accept-Language": f"{language},ru;q=0.5"},
                )
                assert asked.status_code == 422 and word in asked.json()["detail"][0]["msg"]
            # the same character as bytes (ED A0 80, which json decodes the same way)
            raw = submission('"@x"').replace(b"@", b"\xed\xa0\x80")
            assert (await page.post(url, content=raw, headers=JSON)).status_code == 422
            # a key is text too
            key = b'{"category": "consultation", "fields": {"\\udc00": "x"}}'
            refused = await page.post(url, content=key, headers=JSON)
            assert refused.status_code == 422
            assert refused.json()["detail"][0]["loc"] == ["body", "fields", "\ufffd"]
            # nothing was stored: the wrap-up is still pending, every list still answers
            mine = await page.get(f"/api/v1/wrapups/{wrapup_id}")
            assert mine.status_code == 200 and mine.json()["status"] == "pending"
            assert (await page.get("/api/v1/wrapups")).status_code == 200
            assert (await service.client.get("/api/v1/wrapups")).status_code == 200
            # a valid pair (an emoji as two escapes) is a character, and is kept
            kept = await page.post(url, content=submission('"\\ud83d\\ude00"'), headers=JSON)
            assert kept.status_code in (200, 201), kept.text
            assert kept.json()["fields"]["comment"] == "\U0001f600"
        finally:
            await page.aclose()


async def test_deep_huge_and_non_finite_json_is_refused(db_url: str) -> None:
    async with running_service(db_url) as service:
        client = service.client
        deep = json.dumps({"name": "deep", "message": nested(900)})
        answer = await client.post("/api/v1/campaigns", content=deep, headers=JSON)
        assert answer.status_code == 422, answer.text  # old code: 201, then 500 for the list
        (problem,) = answer.json()["detail"]
        assert problem["type"] == "too_deep"
        assert problem["loc"][:3] == ["body", "message", "a"]
        assert f"{MAX_JSON_DEPTH}" in problem["msg"]
        assert len(answer.content) < 2000  # the input is not echoed back
        # within the body cap, over the message's own limit: a message is not 100 kB
        big = json.dumps({"name": "big", "message": {"text": "з" * 50_000}})
        answer = await client.post("/api/v1/campaigns", content=big, headers=JSON)
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"][0]["loc"] == ["body", "message"]
        assert "at most 65536" in answer.text
        assert len(answer.content) < 2000
        for bad in (b"NaN", b"Infinity", b"-Infinity"):
            body = b'{"name": "n", "message": {"timeout": ' + bad + b"}}"
            answer = await client.post("/api/v1/campaigns", content=body, headers=JSON)
            assert answer.status_code == 422, answer.text  # PostgreSQL: 500 before
            assert answer.json()["detail"][0]["loc"] == ["body", "message", "timeout"]
        fine = {"name": "fine", "message": {"text": "Документы готовы", "timeout": 5}}
        assert (await client.post("/api/v1/campaigns", json=fine)).status_code == 201
        listed = await client.get("/api/v1/campaigns")
        assert listed.status_code == 200
        assert [c["name"] for c in listed.json()] == ["fine"]


async def test_nul_is_refused_in_bodies_queries_and_paths(db_url: str) -> None:
    """PostgreSQL stores NUL in neither text nor jsonb: these were 500s there."""
    async with running_service(db_url) as service:
        client = service.client
        login = await client.post("/api/v1/auth/login", json={"login": "a\x00", "password": "x"})
        assert login.status_code == 422, login.text
        assert login.json()["detail"][0]["loc"] == ["body", "login"]
        message = {"name": "n", "message": {"text": "a\x00b"}}
        made = await client.post("/api/v1/campaigns", json=message)
        assert made.status_code == 422 and made.json()["detail"][0]["type"] == "nul_character"
        for path, loc in (
            ("/api/v1/calls?queue=a%00", ["query", "queue"]),
            ("/api/v1/wrapups?category=a%00", ["query", "category"]),
            ("/api/v1/callers/7916%00/history", ["path", "number"]),
        ):
            answer = await client.get(path, headers={"Accept-Language": "en"})
            assert answer.status_code == 422, (path, answer.text)
            (problem,) = answer.json()["detail"]
            assert problem["loc"] == loc and "NUL" in problem["msg"]
        assert (await client.get("/api/v1/calls?queue=support")).status_code == 200


async def test_rows_stored_before_the_check_are_listed_repaired(db_url: str) -> None:
    """A lone surrogate and a 900-deep message already in the database (both backends'
    JSON columns keep them as escapes): every list answers, the bad text as U+FFFD."""
    async with running_service(db_url) as service:
        page, wrapup_id = await pending_wrapup(service)
        made = await service.client.post("/api/v1/campaigns", json={"name": "old"})
        assert made.status_code == 201
        with service.app.state.sessions() as session:  # type: ignore[attr-defined]
            wrapup = session.get(Wrapup, wrapup_id)
            assert wrapup is not None
            wrapup.fields = {"comment": "\ud800x", "\udc00key": "y", "ok": "\U0001f600"}
            campaign = session.scalar(select(Campaign).where(Campaign.name == "old"))
            assert campaign is not None
            campaign.message = nested(900)
            session.commit()
        try:
            for client in (page, service.client):  # the operator and the admin
                listed = await client.get("/api/v1/wrapups")
                assert listed.status_code == 200, listed.text  # old code: 500 for both
                (row,) = [w for w in listed.json() if w["id"] == wrapup_id]
                assert row["fields"] == {"comment": "\ufffdx", "\ufffdkey": "y", "ok": "\U0001f600"}
            one = await page.get(f"/api/v1/wrapups/{wrapup_id}")
            assert one.status_code == 200
            campaigns = await service.client.get("/api/v1/campaigns")
            assert campaigns.status_code == 200, campaigns.text  # old code: 500
            message = campaigns.json()[0]["message"]
            depth = 0
            while isinstance(message, dict):
                message, depth = message["a"], depth + 1
            assert message == TOO_DEEP and depth == MAX_JSON_DEPTH
            one_campaign = await service.client.get(f"/api/v1/campaigns/{made.json()['id']}")
            assert one_campaign.status_code == 200
        finally:
            await page.aclose()


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/v1/calls", "since"),
        ("/api/v1/calls", "until"),
        ("/api/v1/wrapups", "until"),
        ("/api/v1/questions", "due_before"),
    ],
)
async def test_a_time_that_overflows_utc_is_a_422(db_url: str, path: str, name: str) -> None:
    async with running_service(db_url) as service:
        for moment in ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"):
            answer = await service.client.get(path, params={name: moment})
            assert answer.status_code == 422, answer.text  # old code: 500 (OverflowError)
            (problem,) = answer.json()["detail"]
            assert problem["type"] == "time_out_of_range" and problem["loc"] == ["query", name]
            assert "9999-12-31T23:59:59Z" in problem["msg"]
        latest = await service.client.get(path, params={name: "9999-12-31T23:59:59+14:00"})
        assert latest.status_code == 200, latest.text


def test_stored_json_is_repaired_only_where_needed() -> None:
    """The engines' JSON decoder: ordinary rows unchanged, bad ones repaired, and the
    depth counted without the brackets inside strings."""
    ordinary = {"timeline": [{"event": "ring", "at": i} for i in range(100)], "s": "[[[[{{"}
    assert load_stored_json(json.dumps(ordinary)) == ordinary
    assert load_stored_json(json.dumps(ordinary).encode()) == ordinary  # psycopg: bytes
    assert load_stored_json(json.dumps({"e": "\U0001f600"})) == {"e": "\U0001f600"}
    assert load_stored_json('{"c": "\\udfff"}') == {"c": "\ufffd"}
    closers = {"s": "]" * 100, "deep": nested(60)}  # closers in a string hide no depth
    assert "…" in json.dumps(load_stored_json(json.dumps(closers)), ensure_ascii=False)
    assert load_stored_json("[" * 200_000 + "]" * 200_000) == []  # beyond the decoder
    problems = json_problems({"a": ["ok", "\ud800", 1.5, float("inf")]}, ("body",))
    assert problems == [(("body", "a", 1), "lone_surrogate"), (("body", "a", 3), "not_finite")]
