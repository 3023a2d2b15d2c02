"""Issue #17 item 9, the API side: a registry previewed before import (header row, each
column's meaning, first rows), imported with a mapping that ignores a column, and the
mapping remembered for the next registry of the same layout. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from callagent.auth.scopes import Scope
from callagent.campaigns import registry_import
from callagent.db.campaign_models import RegistryEntry, RegistryImport
from tests.conftest import RunningService, make_token, running_service

SAMPLES = Path(registry_import.__file__).parent / "samples"
CSV = (SAMPLES / "registry_sample.csv").read_bytes()
XLSX = (SAMPLES / "registry_sample.xlsx").read_bytes()
DETECTED = {
    "№ п/п": "ignore",
    "ФИО заявителя": "name",
    "Телефон": "phones",
    "Номер дела": "case_number",
    "Услуга": "service",
    "Офис МФЦ": "office",
    "Дата готовности": "ready_date",
    "Примечание": "note",
}


async def _campaign(service: RunningService, name: str) -> int:
    created = await service.client.post("/api/v1/campaigns", json={"name": name})
    assert created.status_code == 201, created.text
    cid: int = created.json()["id"]
    return cid


async def _preview(
    service: RunningService, cid: int, name: str, data: bytes, **headers: str
) -> dict[str, Any]:
    response = await service.client.post(
        f"/api/v1/campaigns/{cid}/registry/preview", files={"file": (name, data)}, headers=headers
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _fields(answer: dict[str, Any]) -> dict[str, str]:
    return {c["header"]: c["field"] for c in answer["columns"]}


async def test_preview_detects_and_the_chosen_mapping_is_remembered(db_url: str) -> None:
    async with running_service(db_url) as service:
        cid = await _campaign(service, "Ноябрь")
        shown = await _preview(service, cid, "registry_sample.csv", CSV)
        assert shown["header_row"] == 2 and shown["rows_total"] == 21
        assert _fields(shown) == DETECTED and shown["remembered"] is None
        assert [r["row"] for r in shown["rows"]] == [3, 4, 5, 6, 7]
        assert shown["rows"][0]["cells"][1] == "Иванова Мария Петровна"  # supervisor: PII
        assert "ignore" in shown["choices"] and shown["problem"] == ""
        with service.app.state.sessions() as session:  # type: ignore[attr-defined]
            assert session.scalars(select(RegistryImport)).all() == []  # nothing stored

        # the supervisor leaves the notes out: the page sends the whole mapping
        chosen = {**shown["mapping"]}
        chosen["ignore"] = [*chosen["ignore"], "Примечание"]
        del chosen["note"]
        uploaded = await service.client.post(
            f"/api/v1/campaigns/{cid}/registry",
            files={"file": ("registry_sample.csv", CSV)},
            data={"mapping": json.dumps(chosen, ensure_ascii=False)},
        )
        assert uploaded.status_code == 200, uploaded.text
        first_import = uploaded.json()["id"]
        assert "note" not in uploaded.json()["mapping"]
        with service.app.state.sessions() as session:  # type: ignore[attr-defined]
            notes = session.scalars(
                select(RegistryEntry.note).where(RegistryEntry.campaign_id == cid)
            ).all()
        assert len(notes) == 19 and set(notes) == {""}  # the sample has notes: ignored

        # the same layout (the XLSX sample) again: the remembered mapping, in this campaign
        again = await _preview(service, cid, "registry_sample.xlsx", XLSX)
        assert _fields(again) == {**DETECTED, "Примечание": "ignore"}
        assert again["remembered"] == {
            "import_id": first_import,
            "campaign_id": cid,
            "filename": "registry_sample.csv",
        }
        # and in a new campaign (next month's registry): the newest of any campaign
        other = await _campaign(service, "Декабрь")
        elsewhere = await _preview(service, other, "registry_sample.xlsx", XLSX)
        assert elsewhere["remembered"]["import_id"] == first_import
        assert _fields(elsewhere)["Примечание"] == "ignore"
        # the other campaign imports with the detected mapping: it keeps its own
        own = await service.client.post(
            f"/api/v1/campaigns/{other}/registry", files={"file": ("r.xlsx", XLSX)}
        )
        assert own.status_code == 200, own.text
        mine = await _preview(service, other, "registry_sample.csv", CSV)
        assert mine["remembered"]["import_id"] == own.json()["id"]
        assert _fields(mine) == DETECTED
        ours = await _preview(service, cid, "registry_sample.csv", CSV)
        assert ours["remembered"]["import_id"] == first_import  # this campaign's first

        # a different layout is not remembered
        different = "Телефон;ФИО\r\n+7 916 100-00-01;Орлов Олег\r\n".encode()
        assert (await _preview(service, cid, "d.csv", different))["remembered"] is None


async def test_preview_masks_cells_for_a_token_without_pii(db_url: str) -> None:
    async with running_service(db_url) as service:
        cid = await _campaign(service, "Маски")
        token = make_token(service.app, frozenset({Scope.CAMPAIGNS_WRITE}), "writer")
        shown = await _preview(
            service, cid, "registry_sample.csv", CSV, Authorization=f"Bearer {token}"
        )
        first = shown["rows"][0]["cells"]
        assert first[1] == "И. М. П." and first[2] == "+7 916 ***-**-01"
        reader = make_token(service.app, frozenset({Scope.CAMPAIGNS_READ}), "reader")
        refused = await service.client.post(
            f"/api/v1/campaigns/{cid}/registry/preview",
            files={"file": ("r.csv", CSV)},
            headers={"Authorization": f"Bearer {reader}"},
        )
        assert refused.status_code == 403


async def test_a_file_without_a_phone_header_is_mapped_by_hand(db_url: str) -> None:
    async with running_service(db_url) as service:
        cid = await _campaign(service, "Контакты")
        data = (
            "ФИО;Связь\r\nОрлов Олег;+7 916 100-00-01\r\n"
            "Белова Нина;8 916 100 00 03;после обеда\r\n"  # a cell right of the header
        )
        shown = await _preview(service, cid, "c.csv", data.encode())
        assert shown["header_row"] == 1 and "no column of phone numbers" in shown["problem"]
        assert _fields(shown) == {"ФИО": "name", "Связь": "ignore", "": "ignore"}
        assert [c["in_header"] for c in shown["columns"]] == [True, True, False]
        assert shown["mapping"] == {"name": ["ФИО"], "ignore": ["Связь"]}  # no Column 3
        assert [r["cells"] for r in shown["rows"]] == [
            ["Орлов Олег", "+7 916 100-00-01", ""],
            ["Белова Нина", "8 916 100 00 03", "после обеда"],
        ]
        uploaded = await service.client.post(
            f"/api/v1/campaigns/{cid}/registry",
            files={"file": ("c.csv", data.encode())},
            data={"mapping": json.dumps({"phones": ["Связь"], "ignore": ["ФИО"]})},
        )
        assert uploaded.status_code == 200, uploaded.text
        assert uploaded.json()["rows_imported"] == 2
        with service.app.state.sessions() as session:  # type: ignore[attr-defined]
            names = session.scalars(select(RegistryEntry.applicant_name)).all()
        assert names == ["", ""]  # ФИО ignored, though its header names the name
        broken = await service.client.post(
            f"/api/v1/campaigns/{cid}/registry/preview", files={"file": ("x.xlsx", b"not")}
        )
        assert broken.status_code == 422 and "x.xlsx" in broken.json()["detail"]


def test_migration_0013_remembers_the_layouts_of_earlier_imports(db_url: str) -> None:
    """Imports made before 0013 get their layout key from the header they stored (the
    import is made at head, the schema taken back to 0012 and brought up again)."""
    from alembic import command

    from callagent.campaigns.registry_import import import_registry, layout_key
    from callagent.campaigns.schemas import CampaignCreate
    from callagent.campaigns.service import create_campaign
    from callagent.db.session import alembic_config, make_engine, make_sessionmaker, upgrade

    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    try:
        with sessions() as session:
            cid = create_campaign(session, spec=CampaignCreate(name="Старая")).id
            record = import_registry(session, campaign_id=cid, data=CSV, filename="r.csv").record
            columns, expected = list(record.columns), record.layout_key
        assert expected == layout_key(columns) and len(expected) == 64
        engine.dispose()
        command.downgrade(alembic_config(db_url), "0012")
        upgrade(db_url)
        with sessions() as session:
            again = session.get(RegistryImport, record.id)
            assert again is not None
            assert again.layout_key == expected  # recomputed by the migration
            assert again.header_row is None  # unknown for an earlier import: old export
    finally:
        engine.dispose()
