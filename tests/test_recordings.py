"""Call recordings over HTTP (issue #13): range requests, a stored name outside the folder,
who may listen, one audit entry per listen, and the call page's player seeking in
headless Chromium; on SQLite and PostgreSQL. The paths and retention:
``test_recordings_files.py``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select

from callagent.auth.scopes import Role, Scope
from callagent.auth.service import create_user
from callagent.db.models import AuditEntry, Call
from callagent.recordings.files import RecordingError
from callagent.sim.ami_server import trace_body
from callagent.sim.recording_files import RecordingSink, tone_wav
from tests.conftest import RunningService, make_token, running_service, trace_bytes
from tests.test_live_replay import play
from tests.test_operator_page import ARTIFACTS, browser, page_of  # noqa: F401 - browser

pytestmark = pytest.mark.asyncio(loop_scope="module")
PBX_DIR = "/var/spool/asterisk/monitor"
STORED = f"{PBX_DIR}/1795354552.974.wav"  # what inbound_recorded's MixMonitor named
SHOTS = ARTIFACTS.parent / "recordings"


def code_of(call: Any) -> str:
    with pytest.raises(RecordingError) as caught:
        call()
    return caught.value.code


# ------------------------------------------------------------------------- API


def sessions(service: RunningService) -> Any:
    return service.app.state.sessions()  # type: ignore[attr-defined]


def add_user(service: RunningService, login: str, role: Role, group: str = "", **kw: Any) -> None:
    with sessions(service) as session:
        create_user(
            session,
            login=login,
            role=role,
            password=f"{login}-password",
            full_name=login.title(),
            group=group,
            **kw,
        )
        session.commit()


async def recorded_call(service: RunningService) -> int:
    """Play the recorded trace; write its file as Asterisk would have; the call's id."""
    await play(service, trace_body(trace_bytes("inbound_recorded")))
    with sessions(service) as session:
        call = session.scalars(select(Call).where(Call.recording_file != "")).one()
        assert call.recording_file == STORED
        call_id = int(call.id)
    RecordingSink(Path(service.settings.recordings_dir), PBX_DIR, seconds=6).write(STORED)
    return call_id


def listens(service: RunningService) -> list[AuditEntry]:
    with sessions(service) as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "recordings.listen")
        ).all()
        session.expunge_all()
        return list(rows)


async def log_in(client: httpx.AsyncClient, login: str) -> None:
    response = await client.post(
        "/api/v1/auth/login", json={"login": login, "password": f"{login}-password"}
    )
    assert response.status_code == 200, response.text


async def test_ranges_seek_and_a_listen_is_audited_once(db_url: str) -> None:
    async with running_service(db_url) as service:
        call_id = await recorded_call(service)
        whole = tone_wav(6)
        url = f"/api/v1/calls/{call_id}/recording"
        full = await service.client.get(url)
        assert full.status_code == 200
        assert full.content == whole
        assert full.headers["content-type"] == "audio/wav"
        assert full.headers["accept-ranges"] == "bytes"
        part = await service.client.get(url, headers={"Range": "bytes=1000-1999"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 1000-1999/{len(whole)}"
        assert part.content == whole[1000:2000]
        tail = await service.client.get(url, headers={"Range": "bytes=-44"})
        assert tail.status_code == 206 and tail.content == whole[-44:]
        beyond = await service.client.get(url, headers={"Range": f"bytes={len(whole) + 5}-"})
        assert beyond.status_code == 416
        entries = listens(service)
        assert len(entries) == 1  # four requests of one listen
        assert entries[0].detail == {"call_id": call_id, "file": "1795354552.974.wav"}
        assert entries[0].actor.startswith("token:")
        # another person's listen is theirs
        token = make_token(service.app, frozenset({Scope.RECORDINGS_LISTEN}), "qa-evaluator")
        other = await service.client.get(
            url, headers={"Authorization": f"Bearer {token}", "Range": "bytes=0-99"}
        )
        assert other.status_code == 206
        assert len(listens(service)) == 2
        # the file gone: a coded 404, and the page's player says so
        (Path(service.settings.recordings_dir) / "1795354552.974.wav").unlink()
        gone = await service.client.get(url)
        assert gone.status_code == 404
        assert gone.json()["code"] == "recording_missing"
        nothing = await service.client.get("/api/v1/calls/999999/recording")
        assert nothing.status_code == 404


async def test_a_stored_name_outside_the_folder_is_never_served(db_url: str) -> None:
    async with running_service(db_url) as service:
        call_id = await recorded_call(service)
        secret = Path(service.settings.recordings_dir).parent / f"secret-{call_id}.txt"
        secret.write_text("not a recording")
        try:
            for stored in (
                "../" + secret.name,
                str(secret),
                f"{PBX_DIR}/../../../../{secret}",
                *(["a\x00.wav"] if db_url.startswith("sqlite") else []),  # PostgreSQL: no NUL
            ):
                with sessions(service) as session:
                    session.get(Call, call_id).recording_file = stored
                    session.commit()
                answer = await service.client.get(f"/api/v1/calls/{call_id}/recording")
                assert answer.status_code == 404, stored
                assert answer.json()["code"] == "recording_outside", stored
                assert "not a recording" not in answer.text
            assert listens(service) == []  # nothing served, nothing heard
        finally:
            secret.unlink()


async def test_who_may_listen(db_url: str) -> None:
    async with running_service(db_url) as service:
        call_id = await recorded_call(service)  # answered by PJSIP/op1001
        add_user(service, "own", Role.OPERATOR, "a", endpoints=["PJSIP/op1001"])
        add_user(service, "stranger", Role.OPERATOR, "a", endpoints=["PJSIP/op1002"])
        add_user(service, "team", Role.SUPERVISOR, "a")
        add_user(service, "otherteam", Role.SUPERVISOR, "b")
        url = f"/api/v1/calls/{call_id}/recording"
        results: dict[str, tuple[int, str]] = {}
        for login in ("own", "stranger", "team", "otherteam"):
            async with httpx.AsyncClient(base_url=service.base_url) as client:
                await log_in(client, login)
                answer = await client.get(url, headers={"Range": "bytes=0-9"})
                code = "" if answer.status_code == 206 else answer.json().get("code", "")
                results[login] = (answer.status_code, code)
        assert results == {
            "own": (403, "recording_operators_off"),
            "stranger": (403, "recording_operators_off"),
            "team": (206, ""),
            "otherteam": (403, "recording_not_yours"),
        }
        token = make_token(service.app, frozenset({Scope.CALLS_READ}), "no-listen")
        lacking = await service.client.get(url, headers={"Authorization": f"Bearer {token}"})
        assert lacking.status_code == 403
        assert [e.actor for e in listens(service)] == ["user:team"]
    async with running_service(db_url, recordings_operators_listen=True) as service:
        call_id = await recorded_call(service)
        # the same database: the first part's people are there already
        add_user(service, "own2", Role.OPERATOR, endpoints=["PJSIP/op1001"])
        add_user(service, "stranger2", Role.OPERATOR, endpoints=["PJSIP/op1002"])
        url = f"/api/v1/calls/{call_id}/recording"
        for login, status, code in (
            ("own2", 206, ""),
            ("stranger2", 403, "recording_not_yours"),
        ):
            async with httpx.AsyncClient(base_url=service.base_url) as client:
                await log_in(client, login)
                answer = await client.get(url, headers={"Range": "bytes=0-9"})
                assert answer.status_code == status, login
                assert code == ("" if status == 206 else answer.json()["code"])


# ------------------------------------------------------------------- Chromium


async def test_the_call_page_plays_and_seeks(
    db_url: str,
    browser: Browser,  # noqa: F811
) -> None:
    seen: list[tuple[int, str]] = []
    async with running_service(db_url) as service:
        call_id = await recorded_call(service)
        add_user(service, "team", Role.SUPERVISOR, "", language="en")
        async with page_of(browser, f"recordings-{backend_of(db_url)}") as page:
            page.on(
                "response",
                lambda r: (
                    seen.append((r.status, r.request.headers.get("range", "")))
                    if "/recording" in r.url
                    else None
                ),
            )
            await page.goto(f"{service.base_url}/calls/{call_id}")
            await page.wait_for_url(re.compile(r"/operator/login"))
            await page.fill("#login", "team")
            await page.fill("#password", "team-password")
            await page.press("#password", "Enter")
            await page.wait_for_url(re.compile(rf"/calls/{call_id}$"))
            player = page.locator("#player")
            await expect(player).to_be_visible()
            await expect(page.locator("#recording")).to_contain_text("access log")
            # the metadata read (a promise, not wait_for_function: the page's CSP refuses
            # the eval that a string predicate needs)
            await player.evaluate(
                "a => a.readyState >= 1 || new Promise(done =>"
                " a.addEventListener('loadedmetadata', done, {once: true}))"
            )
            duration = await player.evaluate("a => a.duration")
            assert 5.9 < duration < 6.1
            await player.evaluate(
                "a => new Promise(done => { a.addEventListener('seeked', done, {once: true});"
                " a.currentTime = 4.5; })"
            )
            assert 4.4 < await player.evaluate("a => a.currentTime") < 4.6
            await page.screenshot(path=str(ARTIFACTS / "recording-player.png"))
        assert any(status == 206 for status, _ in seen), seen
        assert len(listens(service)) == 1  # however many range requests the player made
        # the file gone: the page says so in its language instead of a player
        (Path(service.settings.recordings_dir) / "1795354552.974.wav").unlink()
        async with httpx.AsyncClient(base_url=service.base_url) as client:
            await log_in(client, "team")
            html = (await client.get(f"/calls/{call_id}?lang=uk")).text
        assert 'id="player"' not in html
        assert "файлу запису більше немає" in html


def backend_of(db_url: str) -> str:
    return "postgres" if db_url.startswith("postgresql") else "sqlite"
