"""Campaigns over real HTTP: CRUD and validation, registry upload, progress, masking, scopes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select

from callagent.auth.scopes import ROLE_SCOPES, Role, Scope
from callagent.db.campaign_models import NotificationAttempt, RegistryEntry
from tests.conftest import make_token, running_service

REGISTRY = (
    "ФИО;Телефон;Номер дела;Услуга;Офис\r\n"
    "Иванова Мария Петровна;8 (916) 123-45-67;Д-001;Паспорт;МФЦ-1\r\n"
    "Петров Пётр;+7 383 200-00-01;Д-002;СНИЛС;МФЦ-1\r\n"
    "Кривой Номер;8 916 12;Д-003;Паспорт;МФЦ-2\r\n"
    "Сидорова Анна;9031234567;Д-004;Паспорт;МФЦ-2\r\n"
).encode("cp1251")


def _auth(app: object, scopes: set[Scope], name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(app, frozenset(scopes), name)}"}


async def _create(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/campaigns", json={"name": "Паспорта", **body})
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def _upload(
    client: httpx.AsyncClient, campaign_id: int, data: bytes, name: str = "реестр.csv", **form: str
) -> httpx.Response:
    return await client.post(
        f"/api/v1/campaigns/{campaign_id}/registry",
        files={"file": (name, data, "text/csv")},
        data=form,
    )


async def test_create_read_change_and_validation(db_url: str) -> None:
    async with running_service(db_url) as service:
        client = service.client
        created = await _create(client, mode="operator", holidays=["2026-12-31", "2026-01-01"])
        assert created["status"] == "draft" and created["mode"] == "operator"
        assert created["window"]["mon"] == [["09:00", "20:00"]] and created["window"]["sun"] == []
        assert created["holidays"] == ["2026-01-01", "2026-12-31"]
        assert created["retry_delays"]["busy"] == 900
        assert created["created_by"].startswith("token:")
        again = await client.post("/api/v1/campaigns", json={"name": "Паспорта"})
        assert again.status_code == 409 and "exists already" in again.json()["detail"]
        bad = {
            "office_timezone": "Mars/Olympus",
            "window": {"mon": [["20:00", "09:00"]]},
            "holidays": ["31.12.2026"],
            "dial_template": "PJSIP/trunk",
            "max_concurrent": 0,
            "retry_delays": {"sleepy": 10},
        }
        for field, value in bad.items():
            response = await client.post("/api/v1/campaigns", json={"name": "x", field: value})
            assert response.status_code == 422, (field, response.text)
            assert field in json.dumps(response.json()["detail"]), response.text
        window = await client.post(
            "/api/v1/campaigns", json={"name": "x", "window": {"funday": [["09:00", "10:00"]]}}
        )
        assert "unknown weekday" in window.text
        cid = created["id"]
        listed = (await client.get("/api/v1/campaigns")).json()
        assert [c["id"] for c in listed] == [cid]
        assert (await client.get(f"/api/v1/campaigns/{cid}")).json()["name"] == "Паспорта"
        assert (await client.get("/api/v1/campaigns/999")).status_code == 404
        patched = await client.patch(
            f"/api/v1/campaigns/{cid}",
            json={"window": {"sat": [["10:00", "14:00"]]}, "max_attempts": 5},
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["window"]["mon"] == [] and patched.json()["max_attempts"] == 5
        null = await client.patch(f"/api/v1/campaigns/{cid}", json={"name": None})
        assert null.status_code == 422 and "cannot be null" in null.text
        unknown = await client.patch(f"/api/v1/campaigns/{cid}", json={"colour": "red"})
        assert unknown.status_code == 422


async def test_upload_over_http_reports_and_is_idempotent(db_url: str) -> None:
    async with running_service(db_url) as service:
        client = service.client
        cid = (await _create(client))["id"]
        response = await _upload(client, cid, REGISTRY)
        assert response.status_code == 200, response.text
        report = response.json()
        assert (report["rows_total"], report["rows_imported"], report["rows_rejected"]) == (4, 3, 1)
        assert report["encoding"] == "cp1251" and report["delimiter"] == ";"
        assert report["report"] == [
            {
                "row": 4,
                "code": "invalid_phone",
                "reason": report["report"][0]["reason"],
                "values": {
                    "ФИО": "Кривой Номер",
                    "Телефон": "8 916 12",
                    "Номер дела": "Д-003",
                    "Услуга": "Паспорт",
                    "Офис": "МФЦ-2",
                },
                "imported": False,
            }
        ]
        assert "not a valid phone number" in report["report"][0]["reason"]
        again = (await _upload(client, cid, REGISTRY, "copy.csv")).json()
        assert again["repeated"] is True and again["id"] == report["id"]
        imports = (await client.get(f"/api/v1/campaigns/{cid}/registry/imports")).json()
        assert [i["id"] for i in imports] == [report["id"]]
        one = await client.get(f"/api/v1/campaigns/{cid}/registry/imports/{report['id']}")
        assert one.json()["report"] == report["report"]
        missing = await client.get(f"/api/v1/campaigns/{cid}/registry/imports/999")
        assert missing.status_code == 404
        entries = (await client.get(f"/api/v1/campaigns/{cid}/entries")).json()
        assert entries["total"] == 4
        assert entries["items"][0]["phones"] == ["+79161234567"]
        invalid = (await client.get(f"/api/v1/campaigns/{cid}/entries?status=invalid")).json()
        assert [e["case_number"] for e in invalid["items"]] == ["Д-003"]
        by_phone = await client.get(
            f"/api/v1/campaigns/{cid}/entries", params={"phone": "8 383 200 00 01"}
        )
        assert [e["case_number"] for e in by_phone.json()["items"]] == ["Д-002"]
        # An explicit mapping as a JSON form field.
        odd = "Абонент,Номер для связи\r\nОрлов Олег,8 916 000 33 44\r\n".encode()
        mapped = await _upload(client, cid, odd, "odd.csv", mapping='{"phones": "Номер для связи"}')
        assert mapped.status_code == 200 and mapped.json()["rows_imported"] == 1
        assert mapped.json()["mapping"]["phones"] == ["Номер для связи"]


async def test_bad_uploads_get_clear_errors(db_url: str) -> None:
    async with running_service(db_url, registry_max_bytes=2048) as service:
        client = service.client
        cid = (await _create(client))["id"]
        cases = [
            (b"", {}, 422, "the file is empty"),
            ("ФИО;Услуга\nИванов;Паспорт\n".encode(), {}, 422, "no column of phone numbers"),
            (REGISTRY, {"mapping": "{phones: x}"}, 422, "mapping is not JSON"),
            (REGISTRY, {"mapping": '{"phones": 5}'}, 422, "field -> header"),
            (REGISTRY, {"mapping": '{"phones": "Нет такой"}'}, 422, "no such column"),
            (b"x" * 4096, {}, 413, "CALLAGENT_REGISTRY_MAX_BYTES"),
        ]
        for data, form, status, message in cases:
            response = await _upload(client, cid, data, **form)
            assert response.status_code == status, (message, response.text)
            assert message in response.json()["detail"], response.text
        assert (await client.get(f"/api/v1/campaigns/{cid}/registry/imports")).json() == []
        assert (await _upload(client, 999, REGISTRY)).status_code == 404


async def test_progress_start_pause(db_url: str) -> None:
    async with running_service(db_url) as service:
        client = service.client
        cid = (await _create(client))["id"]
        early = await client.post(f"/api/v1/campaigns/{cid}/start")
        assert early.status_code == 409 and "import a registry first" in early.text
        assert (await client.post(f"/api/v1/campaigns/{cid}/pause")).status_code == 409
        await _upload(client, cid, REGISTRY)
        started = await client.post(f"/api/v1/campaigns/{cid}/start")
        assert started.status_code == 200 and started.json()["status"] == "running"
        with service.app.state.sessions() as session:  # type: ignore[attr-defined]
            entries = session.scalars(
                select(RegistryEntry).where(RegistryEntry.status == "pending")
            ).all()
            entries[0].status = "notified"
            entries[1].status = "in_progress"
            now = datetime.now(UTC)
            for n, (entry, result) in enumerate(
                [(entries[0], "busy"), (entries[0], "answered"), (entries[1], "")]
            ):
                session.add(
                    NotificationAttempt(
                        campaign_id=cid,
                        entry_id=entry.id,
                        phone=entry.phones[0],
                        action_id=f"test-{n}",
                        started_at=now,
                        originated_at=now,
                        result=result,
                    )
                )
            session.commit()
        progress = (await client.get(f"/api/v1/campaigns/{cid}/progress")).json()
        assert progress["entries_by_status"] == {
            "pending": 1,
            "in_progress": 1,
            "notified": 1,
            "not_notified": 0,
            "invalid": 1,
            "do_not_call": 0,
        }
        assert progress["attempts_by_result"] == {"answered": 1, "busy": 1, "in_flight": 1}
        assert progress["calls_in_flight"] == 1 and progress["attempts_total"] == 3
        assert (progress["entries_total"], progress["done"], progress["done_ratio"]) == (4, 2, 0.5)
        paused = await client.post(f"/api/v1/campaigns/{cid}/pause")
        assert paused.json()["status"] == "paused"
        assert (await client.get(f"/api/v1/campaigns/{cid}/progress")).json()["status"] == "paused"


async def test_masking_audit_and_scopes(db_url: str) -> None:
    assert Scope.CAMPAIGNS_READ in ROLE_SCOPES[Role.SUPERVISOR]
    assert Scope.CAMPAIGNS_READ not in ROLE_SCOPES[Role.OPERATOR]
    async with running_service(db_url) as service:
        client, app = service.client, service.app
        cid = (await _create(client))["id"]
        report = (await _upload(client, cid, REGISTRY)).json()
        reader = _auth(app, {Scope.CAMPAIGNS_READ}, "reader")
        page = (await client.get(f"/api/v1/campaigns/{cid}/entries", headers=reader)).json()
        first = page["items"][0]
        assert first["applicant_name"] == "И. М. П."
        assert first["phones"] == ["+7 916 ***-**-67"]
        assert first["raw"]["ФИО"] == "И. М. П." and first["raw"]["Телефон"] == "+7 916 ***-**-67"
        assert first["raw"]["Услуга"] == "Паспорт"
        assert "123-45-67" not in json.dumps(page, ensure_ascii=False)
        masked = await client.get(
            f"/api/v1/campaigns/{cid}/registry/imports/{report['id']}", headers=reader
        )
        assert masked.json()["report"][0]["values"]["ФИО"] == "К. Н."
        assert (await client.get("/api/v1/audit")).json() == []  # masked reads are no export
        full = (await client.get(f"/api/v1/campaigns/{cid}/entries")).json()
        assert full["items"][0]["applicant_name"] == "Иванова Мария Петровна"
        (entry,) = (await client.get("/api/v1/audit")).json()
        assert (entry["action"], entry["rows"]) == ("campaigns.entries", 4)
        # Writing needs campaigns:write; exporting needs calls:read_pii too.
        upload = await client.post(f"/api/v1/campaigns/{cid}/start", headers=reader)
        assert upload.status_code == 403 and "campaigns:write" in upload.text
        export = await client.get(f"/api/v1/campaigns/{cid}/registry/export", headers=reader)
        assert export.status_code == 403 and "calls:read_pii" in export.text
        nothing = _auth(app, {Scope.CALLS_READ}, "calls-only")
        assert (await client.get("/api/v1/campaigns", headers=nothing)).status_code == 403


async def test_do_not_call_list(db_url: str) -> None:
    async with running_service(db_url) as service:
        client = service.client
        cid = (await _create(client))["id"]
        await _upload(client, cid, REGISTRY)
        bad = await client.post("/api/v1/do-not-call", json={"phone": "12-34"})
        assert bad.status_code == 422 and "not a valid phone number" in bad.text
        added = await client.post(
            "/api/v1/do-not-call", json={"phone": "8 916 123-45-67", "reason": "просил"}
        )
        assert added.status_code == 201 and added.json()["phone"] == "+79161234567"
        stopped = await client.get(f"/api/v1/campaigns/{cid}/entries?status=do_not_call")
        assert [e["case_number"] for e in stopped.json()["items"]] == ["Д-001"]
        reader = _auth(service.app, {Scope.CAMPAIGNS_READ}, "reader")
        masked = (await client.get("/api/v1/do-not-call", headers=reader)).json()
        assert [r["phone"] for r in masked] == ["+7 916 ***-**-67"]
        listed = (await client.get("/api/v1/do-not-call")).json()
        assert [(r["phone"], r["reason"]) for r in listed] == [("+79161234567", "просил")]
        removed = await client.delete("/api/v1/do-not-call", params={"phone": "+79161234567"})
        assert removed.status_code == 204
        assert (await client.get("/api/v1/do-not-call")).json() == []
        again = await client.delete("/api/v1/do-not-call", params={"phone": "8 916 123-45-67"})
        assert again.status_code == 404 and "+7 916 ***-**-67" in again.text
