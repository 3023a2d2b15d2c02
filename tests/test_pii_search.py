"""A masked number cannot be recovered by searching for it (issue #15, point 10).

A token without ``calls:read_pii`` saw ``+7 903 ***-**-67`` but ``GET /calls?phone=``
answered total 1 or 0 for any candidate: about 5 minutes to recover a number, and
the probes were not audited. Every search by number (calls, a caller's history,
campaign entries) now needs the scope, is limited per user or token and audited,
whether it matched or not. SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from callagent.auth.scopes import ALL_SCOPES, Scope
from callagent.sim.ami_server import trace_body
from tests.conftest import RunningService, running_service, trace_bytes
from tests.test_dialer import ALWAYS, make_campaign
from tests.test_live_replay import play
from tests.test_security_features import REGISTRY, auth, upload

CALLER = "79031234567"  # the applicant of the recorded inbound call
NOT_A_CALLER = "79031234568"


async def scene(service: RunningService) -> int:
    """The recorded inbound call, and a campaign whose registry has three numbers."""
    await play(service, trace_body(trace_bytes("inbound_answered_caller_hangs_up")))
    cid = make_campaign(service, name="pii", window=ALWAYS)
    assert (await upload(service.client, cid, REGISTRY)).status_code == 200
    return cid


def searches(cid: int, number: str) -> list[tuple[str, dict[str, str]]]:
    return [
        ("/api/v1/calls", {"phone": number}),
        (f"/api/v1/callers/{number}/history", {}),
        (f"/api/v1/campaigns/{cid}/entries", {"phone": number}),
    ]


async def audit_log(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (await client.get("/api/v1/audit?limit=1000")).json()
    return rows


async def test_without_the_pii_scope_a_search_by_number_tells_nothing(db_url: str) -> None:
    async with running_service(db_url, campaign_scheduler="off") as service:
        cid = await scene(service)
        lite = auth(service.app, ALL_SCOPES - {Scope.CALLS_READ_PII}, "no-pii")
        listed = (await service.client.get("/api/v1/calls", headers=lite)).json()
        assert "+7 903 ***-**-67" in json.dumps(listed)  # what the probe started from
        for candidate in (CALLER, NOT_A_CALLER, "9161000002"):
            for url, params in searches(cid, candidate):
                answer = await service.client.get(url, params=params, headers=lite)
                # the same answer for a match and a miss: nothing to tell them apart
                assert answer.status_code == 403, (url, answer.text)
                assert "calls:read_pii" in answer.json()["detail"]
        # listing without a number still works, masked
        entries = await service.client.get(f"/api/v1/campaigns/{cid}/entries", headers=lite)
        assert entries.status_code == 200 and entries.json()["total"] == 4


async def test_every_search_by_number_is_audited_matched_or_not(db_url: str) -> None:
    async with running_service(db_url, campaign_scheduler="off") as service:
        cid = await scene(service)
        crm = auth(service.app, {Scope.CALLS_READ, Scope.CALLS_READ_PII}, "crm")
        found = await service.client.get("/api/v1/calls", params={"phone": CALLER}, headers=crm)
        assert found.json()["total"] == 1
        missed = await service.client.get(
            "/api/v1/calls", params={"phone": NOT_A_CALLER}, headers=crm
        )
        assert missed.json()["total"] == 0
        history = await service.client.get(f"/api/v1/callers/{CALLER}/history")
        assert history.status_code == 200 and len(history.json()["calls"]) == 1
        entry = await service.client.get(
            f"/api/v1/campaigns/{cid}/entries", params={"phone": "8 916 100-00-09"}
        )
        assert entry.status_code == 200 and entry.json()["total"] == 0

        log = await audit_log(service.client)
        searched = [
            (row["actor"], row["action"], row["detail"]["phone"], row["rows"])
            for row in reversed(log)
            if "phone" in row["detail"]
        ]
        assert [(a.split(":")[-1], action, phone, rows) for a, action, phone, rows in searched] == [
            ("crm", "calls.list", "+7 903 ***-**-67", 1),
            ("crm", "calls.list", "+7 903 ***-**-68", 0),  # a miss is a probe too
            ("tests-admin", "callers.history", "+7 903 ***-**-67", 1),
            ("tests-admin", "campaigns.entries", "+7 916 ***-**-09", 0),
        ]
        dumped = json.dumps(log)
        assert CALLER not in dumped and NOT_A_CALLER not in dumped  # masked there too


async def test_searches_by_number_are_limited_per_credential(db_url: str) -> None:
    async with running_service(
        db_url, campaign_scheduler="off", phone_search_per_minute=4
    ) as service:
        cid = await scene(service)
        crm = auth(service.app, {Scope.CALLS_READ, Scope.CALLS_READ_PII, Scope.CAMPAIGNS_READ}, "c")
        other = auth(service.app, {Scope.CALLS_READ, Scope.CALLS_READ_PII}, "other")
        for n in range(4):
            url, params = searches(cid, f"7903123456{n}")[n % 3]
            answer = await service.client.get(url, params=params, headers=crm)
            assert answer.status_code == 200, answer.text
        for url, params in searches(cid, NOT_A_CALLER):  # every kind counts alike
            limited = await service.client.get(url, params=params, headers=crm)
            assert limited.status_code == 429, (url, limited.text)
            assert 0 < int(limited.headers["retry-after"]) <= 61
            assert "4 searches by phone number a minute" in limited.json()["detail"]
        # other credentials, and listings without a number, are not held back
        assert (
            await service.client.get("/api/v1/calls", params={"phone": CALLER}, headers=other)
        ).status_code == 200
        assert (await service.client.get("/api/v1/calls", headers=crm)).status_code == 200
        refused = [row for row in await audit_log(service.client) if row["actor"].endswith(":c")]
        assert len(refused) == 4 + 1  # the four searches and the plain listing; no 429
