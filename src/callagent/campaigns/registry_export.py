"""Registry export: the registry as imported (same columns, raw cells) plus the results.

This is the file that goes back to the operations department. :func:`build_sheet`
reads the database; :func:`to_csv` and :func:`to_xlsx` are pure writers.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from callagent.campaigns.tables import column_keys
from callagent.db.campaign_models import Campaign, RegistryEntry, RegistryImport

Lang = Literal["ru", "en"]
Cell = str | int | datetime | None

RESULT_HEADERS: dict[str, list[str]] = {
    "ru": [
        "Статус",
        "Попыток",
        "Последний результат",
        "Время последнего звонка",
        "Цифра подтверждения",
        "Комментарий оператора",
    ],
    "en": [
        "Status",
        "Attempts",
        "Last result",
        "Last call time",
        "Confirmation digit",
        "Operator comment",
    ],
}
STATUS_TEXT: dict[str, dict[str, str]] = {
    "ru": {
        "pending": "ожидает звонка",
        "in_progress": "звонок идёт",
        "notified": "уведомлён",
        "not_notified": "не уведомлён",
        "invalid": "неверный номер",
        "do_not_call": "не звонить",
    },
    "en": {
        "pending": "pending",
        "in_progress": "in progress",
        "notified": "notified",
        "not_notified": "not notified",
        "invalid": "invalid number",
        "do_not_call": "do not call",
    },
}
RESULT_TEXT: dict[str, dict[str, str]] = {
    "ru": {
        "answered": "ответил",
        "answered_no_confirmation": "ответил, без подтверждения",
        "answering_machine": "автоответчик",
        "prompt_missing": "не проиграно: на АТС нет звукового файла",
        "busy": "занято",
        "no_answer": "не отвечает",
        "failed": "ошибка вызова",
        "congestion": "линия перегружена",
        "rejected": "вызов отклонён",
        "timeout": "нет ответа АТС",
    },
    "en": {},  # the result codes are English already
}
_TIME_FORMAT = {"ru": "%d.%m.%Y %H:%M", "en": "%Y-%m-%d %H:%M"}
_XLSX_TIME_FORMAT = {"ru": "DD.MM.YYYY HH:MM", "en": "YYYY-MM-DD HH:MM"}
_PHONE_LIKE = re.compile(r"^[+\-\d\s().]+$")


@dataclass
class Sheet:
    """Headers and rows of an export, cells typed (times in the office's zone, naive)."""

    headers: list[str]
    rows: list[list[Cell]]
    lang: str = "ru"
    delimiter: str = ";"


def build_sheet(session: Session, *, campaign: Campaign, lang: Lang = "ru") -> Sheet:
    """The campaign's registry with results, in the imported files' column layout."""
    imports = session.scalars(
        select(RegistryImport)
        .where(RegistryImport.campaign_id == campaign.id)
        .order_by(RegistryImport.id)
    ).all()
    keys: list[str] = []
    headers: list[str] = []
    for record in imports:
        for key, header in zip(column_keys(record.columns), record.columns, strict=True):
            if key not in keys:
                keys.append(key)
                headers.append(header)
    entries = session.scalars(
        select(RegistryEntry)
        .where(RegistryEntry.campaign_id == campaign.id)
        .order_by(RegistryEntry.import_id, RegistryEntry.row_number, RegistryEntry.id)
    ).all()
    for entry in entries:  # cells right of an import's header row
        for key in entry.raw:
            if key not in keys:
                keys.append(key)
                headers.append(key)
    zone = ZoneInfo(campaign.office_timezone)
    statuses, results = STATUS_TEXT[lang], RESULT_TEXT[lang]
    rows: list[list[Cell]] = []
    for entry in entries:
        last_call = (
            entry.last_call_at.astimezone(zone).replace(tzinfo=None)
            if entry.last_call_at is not None
            else None
        )
        cells: list[Cell] = [str(entry.raw.get(key, "")) for key in keys]
        rows.append(
            [
                *cells,
                statuses.get(entry.status, entry.status),
                entry.attempts,
                results.get(entry.last_result, entry.last_result),
                last_call,
                entry.confirmation_digit,
                entry.operator_comment,
            ]
        )
    delimiter = next((r.delimiter for r in imports if r.file_format == "csv" and r.delimiter), ";")
    return Sheet(headers + RESULT_HEADERS[lang], rows, lang=lang, delimiter=delimiter)


def safe_text(value: str) -> str:
    """A cell that a spreadsheet will not run as a formula (phone numbers stay as they are)."""
    if value[:1] in ("=", "@", "\t", "\r") or (
        value[:1] in ("+", "-") and not _PHONE_LIKE.match(value)
    ):
        return "'" + value
    return value


def to_csv(sheet: Sheet) -> bytes:
    """UTF-8 with a BOM (Excel opens it as such), the imported file's delimiter."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=sheet.delimiter, lineterminator="\r\n")
    writer.writerow([safe_text(h) for h in sheet.headers])
    fmt = _TIME_FORMAT[sheet.lang]
    for row in sheet.rows:
        writer.writerow(
            [
                cell.strftime(fmt)
                if isinstance(cell, datetime)
                else ""
                if cell is None
                else safe_text(cell)
                if isinstance(cell, str)
                else cell
                for cell in row
            ]
        )
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(sheet: Sheet, title: str = "Реестр") -> bytes:
    """One sheet, text cells kept as text (numbers with leading zeros or + stay intact)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(title=title[:31] or "Registry")
    bold = Font(bold=True)
    header: list[WriteOnlyCell] = []
    for text in sheet.headers:
        cell = WriteOnlyCell(worksheet, value=text)
        cell.font = bold
        if text.startswith("="):
            cell.data_type = "s"
        header.append(cell)
    worksheet.append(header)
    time_format = _XLSX_TIME_FORMAT[sheet.lang]
    for row in sheet.rows:
        cells: list[WriteOnlyCell] = []
        for value in row:
            cell = WriteOnlyCell(worksheet, value=value)
            if isinstance(value, datetime):
                cell.number_format = time_format
            elif isinstance(value, str) and value.startswith("="):
                cell.data_type = "s"  # text, never a formula
            cells.append(cell)
        worksheet.append(cells)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def export_file(
    session: Session, *, campaign: Campaign, fmt: Literal["csv", "xlsx"], lang: Lang = "ru"
) -> tuple[bytes, int]:
    """(file bytes, number of rows) of the campaign's registry with results."""
    sheet = build_sheet(session, campaign=campaign, lang=lang)
    data = to_csv(sheet) if fmt == "csv" else to_xlsx(sheet)
    return data, len(sheet.rows)


def export_filename(campaign: Campaign, fmt: str) -> str:
    """An ASCII-safe file name for the download."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", campaign.name).strip("_") or f"campaign_{campaign.id}"
    return f"registry_{safe}.{fmt}"
