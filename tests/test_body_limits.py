"""Request bodies are capped per route as they stream in, and a 422 never echoes a big input
(issue 15, point 6): over real TCP to the running service on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from callagent.api.body_limit import LOGIN_BODY_BYTES
from tests.conftest import migrated_sqlite, running_service

MB = 1 << 20


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """The caps are the HTTP layer's: one database (a SQLite file) is enough."""
    return migrated_sqlite(tmp_path / "callagent.db")


async def _raw(base_url: str, head: str, body_chunks: int = 0, chunk: int = MB) -> tuple[int, int]:
    """Send ``head`` then up to ``body_chunks`` chunks of a chunked body, reading the answer
    meanwhile: (status, body bytes the client got to send before the answer came)."""
    address = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    writer.write(head.encode())
    sent = 0

    async def send() -> None:
        nonlocal sent
        piece = b"%x\r\n" % chunk + b" " * chunk + b"\r\n"
        for _ in range(body_chunks):
            writer.write(piece)
            await writer.drain()
            sent += chunk

    sender = asyncio.create_task(send())
    try:
        status_line = await asyncio.wait_for(reader.readline(), 30)
    finally:
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
        writer.close()
    return int(status_line.split()[1]), sent


async def test_a_login_declaring_300_mb_is_refused_before_its_body_is_read(sqlite_url: str) -> None:
    async with running_service(sqlite_url) as service:
        head = (
            "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: application/json\r\nContent-Length: 314572800\r\n\r\n"
        )
        status, _ = await _raw(service.base_url, head)
        assert status == 413


async def test_a_streamed_login_body_is_cut_at_its_cap(sqlite_url: str) -> None:
    async with running_service(sqlite_url) as service:
        head = (
            "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        status, sent = await _raw(service.base_url, head, body_chunks=300, chunk=MB)
        assert status == 413
        # The answer came while the client was still sending: the server stopped reading
        # at 16 KiB (what the client got out is that plus the sockets' buffers).
        assert sent < 64 * MB, sent


async def test_json_bodies_and_uploads_have_their_own_caps(sqlite_url: str) -> None:
    async with running_service(sqlite_url, registry_max_bytes=4096, max_body_bytes=8192) as service:
        client = service.client
        big_json = {"name": "Паспорта", "caller_id": "x" * 10_000}
        response = await client.post("/api/v1/campaigns", json=big_json)
        assert response.status_code == 413, response.text
        assert "CALLAGENT_MAX_BODY_BYTES" in response.json()["detail"]
        created = await client.post("/api/v1/campaigns", json={"name": "Паспорта"})
        campaign = created.json()["id"]
        # An upload may be as big as the registry limit, not the JSON one...
        registry = "ФИО;Телефон\nОрлов Олег;9160003344\n".encode() + b"\n" * 6000
        ok = await client.post(
            f"/api/v1/campaigns/{campaign}/registry", files={"file": ("r.csv", registry[:4000])}
        )
        assert ok.status_code == 200, ok.text
        # ...and no bigger (plus the multipart framing).
        over = await client.post(
            f"/api/v1/campaigns/{campaign}/registry",
            files={"file": ("r.csv", registry + b"\n" * 200_000)},
        )
        assert over.status_code == 413
        assert "CALLAGENT_REGISTRY_MAX_BYTES" in over.json()["detail"]
        login = await client.post(
            "/api/v1/auth/login", json={"login": "a", "password": "b" * LOGIN_BODY_BYTES}
        )
        assert login.status_code == 413


async def test_a_422_does_not_echo_a_big_input(sqlite_url: str) -> None:
    async with running_service(sqlite_url) as service:
        client = service.client
        sent = {"name": ["x" * 500_000], "max_attempts": "y" * 300_000}
        response = await client.post("/api/v1/campaigns", json=sent)
        assert response.status_code == 422
        assert len(response.content) < 4096, len(response.content)
        errors = response.json()["detail"]
        by_field = {tuple(error["loc"]): error for error in errors}
        name = by_field[("body", "name")]
        assert name["input"].startswith('["xxxx') and name["input"].endswith("(500004 characters)")
        assert by_field[("body", "max_attempts")]["msg"]
        # A small wrong value is still shown as it was sent.
        small = await client.post("/api/v1/campaigns", json={"name": "a", "max_attempts": "z"})
        assert small.status_code == 422
        assert {"z"} == {
            e.get("input") for e in small.json()["detail"] if e["loc"][-1] == "max_attempts"
        }
        # A login body of 15 KiB of garbage: a short answer too.
        login = await client.post("/api/v1/auth/login", json={"login": ["q" * 15_000]})
        assert login.status_code == 422 and len(login.content) < 4096
        # Thousands of errors in one body: the first 20, and how many more.
        skills = {f"skill{i}": "high" for i in range(5000)}
        body = {"login": "many", "skills": skills}
        many = await client.post("/api/v1/operators", json=body)
        assert many.status_code == 422 and len(many.content) < 16_384
        assert many.json()["detail"][-1] == {
            "type": "more_errors",
            "loc": ["body"],
            "msg": "4980 more errors not shown",
        }
        assert json.dumps(many.json()).count('"skills"') == 20
