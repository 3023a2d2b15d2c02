"""HTTP API through uvicorn, the schema check, the CLI, and what logs may carry."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from callagent.api.app import create_app
from callagent.db.session import SchemaError, check_schema, make_engine
from callagent.sim.ami_server import trace_body
from tests.conftest import ALL_TRACES, TRACES, make_settings, running_service, trace_bytes, wait_for
from tests.test_live_replay import play


async def test_calls_api_filters_and_pages(db_url: str) -> None:
    async with running_service(db_url) as service:
        for name in ("inbound_no_answer_then_next", "inbound_abandoned", "click_to_call"):
            await play(service, trace_body(trace_bytes(name)))
        get = service.client.get
        everything = (await get("/api/v1/calls")).json()
        assert everything["total"] == 3
        started = [item["started_at"] for item in everything["items"]]
        assert started == sorted(started, reverse=True)  # newest first

        async def total(**params: str) -> int:
            response = await get("/api/v1/calls", params=params)
            assert response.status_code == 200, response.text
            return int(response.json()["total"])

        assert await total(disposition="abandoned") == 1
        assert await total(direction="outbound") == 1
        assert await total(operator="PJSIP/op1002") == 1
        assert await total(phone="79161234567") == 1
        assert await total(phone="79031234567") == 2
        assert await total(since="2026-11-22T13:30:00Z") == 1  # the click-to-call only
        assert await total(until="2026-11-22T16:30:00+03:00") == 2
        page = (await get("/api/v1/calls", params={"limit": 2, "offset": 2})).json()
        assert len(page["items"]) == 1 and page["total"] == 3

        call_id = next(i["id"] for i in everything["items"] if i["disposition"] == "abandoned")
        detail = (await get(f"/api/v1/calls/{call_id}")).json()
        assert [e["event"] for e in detail["timeline"]][-1] == "ended"
        assert {leg["role"] for leg in detail["legs"]} == {"trunk", "operator"}

        missing = await get("/api/v1/calls/999999")
        assert missing.status_code == 404
        assert missing.json()["detail"] == "no call with id 999999"
        naive = await get("/api/v1/calls", params={"since": "2026-11-22T13:18:00"})
        assert naive.status_code == 422 and "time zone" in naive.text
        bad = await get("/api/v1/calls", params={"direction": "sideways"})
        assert bad.status_code == 422


async def test_health_readiness_and_metrics(db_url: str) -> None:
    async with running_service(db_url) as service:
        assert (await service.client.get("/healthz")).json() == {"status": "ok"}
        await wait_for(lambda: service.monitor.clients[0].connected)
        ready = await service.client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["ami_nodes"]["pbx1"]["connected"]
        await play(service, trace_body(trace_bytes("inbound_answered_caller_hangs_up")))
        await (await service.pbx.connection(0)).send(b"no structure at all\r\n\r\n")
        await wait_for(lambda: service.monitor.clients[0].events_malformed == 1)
        metrics = (await service.client.get("/metrics")).text
        assert 'callagent_ami_events_received_total{node="pbx1"}' in metrics
        assert 'callagent_ami_events_malformed_total{node="pbx1"} 1.0' in metrics
        assert 'callagent_ami_connected{node="pbx1"} 1.0' in metrics
        assert "callagent_calls_active 0.0" in metrics
        (await service.pbx.connection(0)).answer = False
        await service.pbx.stop()
        await wait_for(lambda: not service.monitor.clients[0].connected)
        not_ready = await service.client.get("/readyz")
        assert not_ready.status_code == 503
        assert not_ready.json()["ami_nodes"]["pbx1"]["connected"] is False


def test_without_an_ami_node_the_service_waits_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from fastapi.testclient import TestClient

    from callagent.db.session import upgrade

    url = f"sqlite:///{tmp_path / 'callagent.db'}"
    upgrade(url)
    with TestClient(create_app(make_settings(url, None))) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "no AMI node configured" in ready.json()["reason"]
    assert "no AMI node configured: callagent is waiting" in caplog.text


def test_service_refuses_a_database_whose_schema_is_behind(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with pytest.raises(SchemaError, match="run `callagent migrate`"):
        check_schema(make_engine(url))
    result = subprocess.run(
        [sys.executable, "-m", "callagent", "serve"],
        env={"CALLAGENT_DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3
    assert "callagent migrate" in result.stderr


@pytest.mark.parametrize("name", ALL_TRACES)
def test_replay_cli_prints_json_records(name: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "callagent", "replay", str(TRACES / f"{name}.ami"), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    from tests.test_live_replay import as_epoch
    from tests.trace_expectations import check_records

    check_records(name, [as_epoch(r) for r in records])


def test_replay_cli_human_output_and_a_missing_file(tmp_path: Path) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "callagent", "replay", str(TRACES / "inbound_abandoned.ami")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0
    assert "abandoned" in ok.stdout and "PJSIP/op1001:caller_gone" in ok.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "callagent", "replay", str(tmp_path / "nope.ami")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode != 0
    assert "cannot read the trace" in missing.stderr


async def test_logs_carry_no_phone_number_name_or_secret(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running_service(db_url) as service:
        for name in ("inbound_answered_caller_hangs_up", "click_to_call", "outbound_notify_busy"):
            await play(service, trace_body(trace_bytes(name)))
        await service.client.get("/api/v1/calls", params={"phone": "79031234567"})
        made = await service.client.post(
            "/api/v1/operators",
            json={"login": "ivanova", "full_name": "Иванова Мария", "password": "correct horse 1"},
        )
        assert made.status_code == 201
        login = await service.client.post(
            "/api/v1/auth/login", json={"login": "ivanova", "password": "correct horse 1"}
        )
        assert login.status_code == 200
        await service.client.post(
            "/api/v1/auth/login", json={"login": "ivanova", "password": "bad"}
        )
        token = service.client.headers["Authorization"].split()[1]
    # The service's own log lines (the test's HTTP client logs its URLs: not ours).
    ours = [r for r in caplog.records if r.name.startswith(("callagent", "uvicorn", "alembic"))]
    text = "\n".join(r.getMessage() for r in ours)
    assert "pbx1" in text  # the log was captured
    info = "\n".join(r.getMessage() for r in ours if r.levelno >= logging.INFO)
    assert "79031234567" not in info and "79161234567" not in info and "Docs Ready" not in info
    for secret in (service.pbx.secret, token, "correct horse 1", "Иванова"):
        assert secret not in text  # not even at DEBUG


def test_access_log_lines_lose_their_query_string() -> None:
    from callagent.logs import DropQueryStringFilter

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/api/v1/calls?phone=79161234567", "1.1", 200),
        None,
    )
    assert DropQueryStringFilter().filter(record)
    assert "79161234567" not in record.getMessage()
    assert "/api/v1/calls?…" in record.getMessage()
