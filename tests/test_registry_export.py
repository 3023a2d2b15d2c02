"""Registry export: the imported layout plus result columns, CSV and XLSX, audited."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import openpyxl
from sqlalchemy import select

from callagent.db.campaign_models import RegistryEntry
from callagent.spreadsheets import safe_text
from tests.conftest import running_service

COLUMNS = ["№", "ФИО", "Телефон", "Номер дела", "Офис", "Примечание"]
REGISTRY = (
    "\t".join(COLUMNS)
    + "\r\n1\tИванова Мария\t8 (916) 123-45-67\tД-001\tМФЦ-1\t=SUM(A1)\r\n"
    + "2\tПетров Пётр\t+7 383 200-00-01\tД-002\tМФЦ-1\t\r\n"
    + "3\tКривой Номер\t8 916 12\tД-003\tМФЦ-2\tпозвонить утром\r\n"
).encode("cp1251")
RESULTS_RU = [
    "Статус",
    "Попыток",
    "Последний результат",
    "Время последнего звонка",
    "Цифра подтверждения",
    "Комментарий оператора",
]


async def _campaign_with_results(service: Any) -> int:
    client = service.client
    created = await client.post(
        "/api/v1/campaigns", json={"name": "Экспорт", "office_timezone": "Asia/Novosibirsk"}
    )
    cid: int = created.json()["id"]
    response = await client.post(
        f"/api/v1/campaigns/{cid}/registry", files={"file": ("r.tsv", REGISTRY, "text/csv")}
    )
    assert response.status_code == 200, response.text
    with service.app.state.sessions() as session:
        entries = {
            e.case_number: e
            for e in session.scalars(select(RegistryEntry).where(RegistryEntry.campaign_id == cid))
        }
        done = entries["Д-001"]
        done.status, done.attempts, done.last_result = "notified", 2, "answered"
        done.last_call_at = datetime(2026, 11, 23, 5, 30, tzinfo=UTC)  # 12:30 in Novosibirsk
        done.confirmation_digit = "1"
        failed = entries["Д-002"]
        failed.status, failed.attempts, failed.last_result = "not_notified", 3, "busy"
        failed.operator_comment = "занято весь день"
        session.commit()
    return cid


async def test_csv_export_keeps_the_layout_and_adds_results(db_url: str) -> None:
    async with running_service(db_url) as service:
        cid = await _campaign_with_results(service)
        response = await service.client.get(f"/api/v1/campaigns/{cid}/registry/export?format=csv")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        assert 'filename="registry_' in response.headers["content-disposition"]
        assert response.content.startswith(b"\xef\xbb\xbf")  # Excel reads it as UTF-8
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter="\t"))
        assert rows[0] == COLUMNS + RESULTS_RU
        assert rows[1] == [
            "1",
            "Иванова Мария",
            "8 (916) 123-45-67",
            "Д-001",
            "МФЦ-1",
            "'=SUM(A1)",  # never a formula in the department's spreadsheet
            "уведомлён",
            "2",
            "ответил",
            "23.11.2026 12:30",
            "1",
            "",
        ]
        assert rows[2][6:] == ["не уведомлён", "3", "занято", "", "", "занято весь день"]
        assert rows[3][:6] == ["3", "Кривой Номер", "8 916 12", "Д-003", "МФЦ-2", "позвонить утром"]
        assert rows[3][6] == "неверный номер"
        assert len(rows) == 4
        (entry,) = (await service.client.get("/api/v1/audit")).json()
        assert entry["action"] == "campaigns.registry_export"
        assert entry["rows"] == 3 and entry["detail"] == {"campaign_id": cid, "format": "csv"}
        assert entry["actor"].startswith("token:")


async def test_xlsx_export_reads_back_with_openpyxl(db_url: str) -> None:
    async with running_service(db_url) as service:
        cid = await _campaign_with_results(service)
        response = await service.client.get(
            f"/api/v1/campaigns/{cid}/registry/export", params={"format": "xlsx", "lang": "en"}
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
        workbook = openpyxl.load_workbook(io.BytesIO(response.content))
        sheet = workbook.active
        assert sheet is not None
        rows = [list(row) for row in sheet.iter_rows(values_only=True)]
        assert rows[0] == [
            *COLUMNS,
            "Status",
            "Attempts",
            "Last result",
            "Last call time",
            "Confirmation digit",
            "Operator comment",
        ]
        first = rows[1]
        assert first[:6] == [
            "1",
            "Иванова Мария",
            "8 (916) 123-45-67",
            "Д-001",
            "МФЦ-1",
            "=SUM(A1)",
        ]
        assert first[6:] == ["notified", 2, "answered", datetime(2026, 11, 23, 12, 30), "1", None]
        assert sheet.cell(row=2, column=6).data_type == "s"  # text, not a formula
        assert rows[2][6:9] == ["not notified", 3, "busy"]
        assert rows[3][6] == "invalid number"
        audit = (await service.client.get("/api/v1/audit")).json()
        assert audit[0]["detail"]["format"] == "xlsx" and audit[0]["rows"] == 3


async def test_the_export_of_two_imports_gives_each_back_in_its_layout(db_url: str) -> None:
    """Each upload row for row in its own columns (issue #17 item 6): CSV one after the
    other, XLSX one sheet each."""
    async with running_service(db_url) as service:
        cid = await _campaign_with_results(service)
        second = "ФИО;Телефон;Дата готовности\r\nОрлов Олег;8 495 100-00-01;25.11.2026\r\n"
        await service.client.post(
            f"/api/v1/campaigns/{cid}/registry",
            files={"file": ("2.csv", second.encode(), "text/csv")},
        )
        response = await service.client.get(f"/api/v1/campaigns/{cid}/registry/export?format=csv")
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter="\t"))
        assert rows[0] == [*COLUMNS, *RESULTS_RU]
        assert rows[4] == ["ФИО", "Телефон", "Дата готовности", *RESULTS_RU]
        assert rows[5][:4] == ["Орлов Олег", "8 495 100-00-01", "25.11.2026", "ожидает звонка"]
        assert len(rows) == 6


def test_cells_that_a_spreadsheet_would_run_are_defused() -> None:
    assert safe_text("+7 916 123-45-67") == "+7 916 123-45-67"
    assert safe_text("-") == "-"
    assert safe_text("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert safe_text("+cmd|' /C calc'!A0") == "'+cmd|' /C calc'!A0"
    assert safe_text("@SUM(1)") == "'@SUM(1)"
