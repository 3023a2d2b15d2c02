"""Issue #17 item 6: the export is the uploaded registry row for row.

An upload with a title row, the header on row 2, a blank row, a duplicate, a row without
a number and an invalid number comes back (CSV and XLSX, read back with csv and
openpyxl) with as many rows as it had, every original cell in its place, and the result
columns to the right; each row not dialled says why. SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from callagent.campaigns.tables import cell_text, column_keys, row_cells, row_values
from callagent.db.campaign_models import RegistryEntry
from tests.conftest import RunningService, running_service

# Row numbers as a spreadsheet shows them: 1 title, 2 header, 3-4 entries, 5 blank,
# 6 a duplicate of 3 (same case number), 7 an invalid number, 8 no number, 9 an entry
# with a note right of the header, 10 the last.
ROWS: list[list[Any]] = [
    ["Реестр готовых документов на 23.11.2026", "", "", "", ""],
    ["№", "ФИО", "Телефон", "Номер дела", "Офис"],
    [1, "Иванова Мария", "8 (916) 123-45-67", "Д-001", "МФЦ-1"],
    [2, "Петров Пётр", "+7 383 200-00-01", "Д-002", "МФЦ-1"],
    ["", "", "", "", ""],
    [3, "Иванова Мария", "8 916 123 45 67", "Д-001", "МФЦ-2"],
    [4, "Кривой Номер", "8 916 12", "Д-004", "МФЦ-2"],
    [5, "Без Номера", "", "Д-005", "МФЦ-1"],
    [6, "Сидорова Анна", "9031234567", "Д-006", "МФЦ-1", "", "позвонить после 18"],
    [7, "Орлов Олег", "+7 495 100-00-07", "Д-007", "МФЦ-3"],
]
WIDTH = 7  # the widest row: the note in column 7
STATUS_RU = {
    1: "над шапкой реестра, не запись",
    2: "Статус",
    3: "уведомлён",
    4: "ожидает звонка",
    5: "пустая строка",
    6: "повтор строки 3, не звоним",
    7: "неверный номер",
    8: "нет номера телефона",
    9: "ожидает звонка",
    10: "ожидает звонка",
}
STATUS_EN = {
    1: "above the header, not an entry",
    5: "blank row",
    6: "duplicate of row 3, not called",
}


def _csv(rows: list[list[Any]]) -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("cp1251")


def _xlsx(rows: list[list[Any]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for number, row in enumerate(rows, start=1):
        for column, value in enumerate(row, start=1):
            if value != "":
                sheet.cell(row=number, column=column, value=value)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _texts(row: list[Any]) -> list[str]:
    return [cell_text(cell) for cell in row]


def _read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))


def _read_xlsx(data: bytes) -> list[list[str]]:
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    return [_texts(list(row)) for row in sheet.iter_rows(values_only=True)]


async def _upload(service: RunningService, name: str, filename: str, data: bytes) -> int:
    client = service.client
    created = await client.post("/api/v1/campaigns", json={"name": name})
    cid: int = created.json()["id"]
    uploaded = await client.post(
        f"/api/v1/campaigns/{cid}/registry", files={"file": (filename, data, "text/csv")}
    )
    assert uploaded.status_code == 200, uploaded.text
    report = uploaded.json()
    assert report["rows_total"] == 8  # rows 3-10 below the header
    with service.app.state.sessions() as session:  # type: ignore[attr-defined]
        entry = session.scalars(
            select(RegistryEntry).where(
                RegistryEntry.campaign_id == cid, RegistryEntry.row_number == 3
            )
        ).one()
        entry.status, entry.attempts, entry.last_result = "notified", 1, "answered"
        entry.confirmation_digit = "1"
        session.commit()
    return cid


def _check(rows: list[list[str]], statuses: dict[int, str]) -> None:
    assert len(rows) == len(ROWS)  # row n of the export is row n of the upload
    for number, (got, sent) in enumerate(zip(rows, ROWS, strict=True), start=1):
        original = _texts(sent) + [""] * (WIDTH - len(sent))
        assert got[:WIDTH] == original, number  # every cell in its place, untouched
        if number in statuses:
            assert got[WIDTH] == statuses[number], number
    assert rows[1][WIDTH:] == [
        "Статус",
        "Попыток",
        "Последний результат",
        "Время последнего звонка",
        "Цифра подтверждения",
        "Комментарий оператора",
    ]
    assert rows[2][WIDTH : WIDTH + 3] == ["уведомлён", "1", "ответил"]
    assert rows[3][WIDTH + 1] == "0"  # an entry: attempts 0
    assert rows[5][WIDTH + 1 :] == [""] * 5  # a duplicate has no attempts, no result


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
async def test_the_export_is_the_upload_row_for_row(db_url: str, kind: str) -> None:
    data = _csv(ROWS) if kind == "csv" else _xlsx(ROWS)
    async with running_service(db_url) as service:
        cid = await _upload(service, f"Построчно {kind}", f"r.{kind}", data)
        url = f"/api/v1/campaigns/{cid}/registry/export"
        as_csv = await service.client.get(url, params={"format": "csv"})
        assert as_csv.status_code == 200, as_csv.text
        _check(_read_csv(as_csv.content), STATUS_RU)
        as_xlsx = await service.client.get(url, params={"format": "xlsx"})
        assert as_xlsx.status_code == 200, as_xlsx.text
        _check(_read_xlsx(as_xlsx.content), STATUS_RU)
        english = _read_csv(
            (await service.client.get(url, params={"format": "csv", "lang": "en"})).content
        )
        assert {n: english[n - 1][WIDTH] for n in STATUS_EN} == STATUS_EN
        (audited, *_) = (await service.client.get("/api/v1/audit")).json()
        assert audited["rows"] == 7  # applicants' rows: six entries and the duplicate


async def test_each_upload_comes_back_row_for_row(db_url: str) -> None:
    """A second upload: its rows already in the campaign say where they are; XLSX has one
    sheet per upload, ``import_id`` gives one alone."""
    async with running_service(db_url) as service:
        cid = await _upload(service, "Две загрузки", "r.csv", _csv(ROWS))
        second = [ROWS[1], ROWS[2], ["8", "Новая Нина", "+7 916 100-00-08", "Д-008", "МФЦ-1"]]
        uploaded = await service.client.post(
            f"/api/v1/campaigns/{cid}/registry",
            files={"file": ("second.csv", _csv(second), "text/csv")},
        )
        assert uploaded.status_code == 200, uploaded.text
        first_id, second_id = sorted(
            i["id"]
            for i in (await service.client.get(f"/api/v1/campaigns/{cid}/registry/imports")).json()
        )
        url = f"/api/v1/campaigns/{cid}/registry/export"
        alone = _read_csv(
            (
                await service.client.get(url, params={"format": "csv", "import_id": second_id})
            ).content
        )
        assert [row[:5] for row in alone] == [_texts(row) for row in second]
        assert alone[1][5] == f"уже в кампании (загрузка {first_id}, строка 3), не звоним"
        assert alone[2][5] == "ожидает звонка"
        workbook = openpyxl.load_workbook(
            io.BytesIO((await service.client.get(url, params={"format": "xlsx"})).content)
        )
        assert workbook.sheetnames == [f"Загрузка {first_id}", f"Загрузка {second_id}"]
        assert workbook.worksheets[0].max_row == len(ROWS)
        assert workbook.worksheets[1].max_row == len(second)
        both = _read_csv((await service.client.get(url, params={"format": "csv"})).content)
        assert len(both) == len(ROWS) + len(second)  # the uploads one after another
        missing = await service.client.get(url, params={"import_id": 999})
        assert missing.status_code == 404


_CELL = st.text(alphabet="аб ;1", max_size=3).map(str.strip)
# a header cell that is not itself "Column N" (the key of a cell right of the header)
_HEADER = _CELL.filter(lambda text: not text.startswith("Column"))


@given(header=st.lists(_HEADER, max_size=6), cells=st.lists(_CELL, max_size=10))
def test_cells_come_back_in_their_columns(header: list[str], cells: list[str]) -> None:
    """What an entry stores (cells by header key, those right of the header numbered) puts
    every cell back in its column: the export's entry rows rest on it."""
    keys = column_keys(header)
    back = row_cells(row_values(cells, keys), keys)
    trimmed = list(cells)
    while trimmed and not trimmed[-1]:
        trimmed.pop()
    assert back == trimmed
