"""Registry export: the registry as uploaded, row for row, plus the result columns.

This is the file that goes back to the operations department: row n of the export is
row n of the upload (title rows, the header, blank rows, duplicates and invalid rows
included, each row not dialled with a status saying why), its cells as they were.
:func:`build_sheets` reads the database; :func:`to_csv` and :func:`to_xlsx` are pure
writers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from callagent.campaigns.tables import column_keys, row_cells
from callagent.db.campaign_models import Campaign, RegistryEntry, RegistryImport, RegistryRow
from callagent.spreadsheets import Cell, Sheet, to_csv, to_xlsx

Lang = Literal["ru", "en"]

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
# Rows that are no entry, and entries whose status says too little, in the export's
# language: every row of the upload comes back, and one not dialled says why.
ROW_TEXT: dict[str, dict[str, str]] = {
    "ru": {
        "blank": "пустая строка",
        "title": "над шапкой реестра, не запись",
        "no_phone": "нет номера телефона",
        "duplicate_in_file": "повтор строки {row}, не звоним",
        "duplicate": "уже в кампании (загрузка {import_id}, строка {row}), не звоним",
    },
    "en": {
        "blank": "blank row",
        "title": "above the header, not an entry",
        "no_phone": "no phone number",
        "duplicate_in_file": "duplicate of row {row}, not called",
        "duplicate": "already in the campaign (import {import_id}, row {row}), not called",
    },
}
SHEET_TITLE = {"ru": ("Реестр", "Загрузка {id}"), "en": ("Registry", "Import {id}")}


def build_sheets(
    session: Session, *, campaign: Campaign, lang: Lang = "ru", import_id: int | None = None
) -> list[Sheet]:
    """The campaign's uploads with results, one sheet per upload (oldest first), each the
    file row for row; ``import_id``: that upload alone."""
    query = select(RegistryImport).where(RegistryImport.campaign_id == campaign.id)
    if import_id is not None:
        query = query.where(RegistryImport.id == import_id)
    imports = session.scalars(query.order_by(RegistryImport.id)).all()
    zone = ZoneInfo(campaign.office_timezone)
    sheets: list[Sheet] = []
    for record in imports:
        entries = session.scalars(
            select(RegistryEntry)
            .where(RegistryEntry.import_id == record.id)
            .order_by(RegistryEntry.row_number, RegistryEntry.id)
        ).all()
        others = session.scalars(
            select(RegistryRow).where(RegistryRow.import_id == record.id)
        ).all()
        sheet = _sheet(record, entries, others, zone, lang)
        many = len(imports) > 1 or import_id is not None
        sheet.title = SHEET_TITLE[lang][1 if many else 0].format(id=record.id)
        sheets.append(sheet)
    if not sheets:  # nothing imported yet: the result headers alone
        sheets.append(Sheet([list(RESULT_HEADERS[lang])], 0, lang=lang))
    return sheets


def build_sheet(session: Session, *, campaign: Campaign, lang: Lang = "ru") -> Sheet:
    """The first upload of the campaign with results (see :func:`build_sheets`)."""
    return build_sheets(session, campaign=campaign, lang=lang)[0]


def _sheet(
    record: RegistryImport,
    entries: Sequence[RegistryEntry],
    others: Sequence[RegistryRow],
    zone: ZoneInfo,
    lang: Lang,
) -> Sheet:
    keys = column_keys(record.columns)
    texts = ROW_TEXT[lang]
    no_phone = {item["row"] for item in record.report if item.get("code") == "no_phone"}
    rows: dict[int, tuple[list[str], list[Cell]]] = {}
    for entry in entries:
        results = _results(entry, zone, lang)
        if entry.status == "invalid" and entry.row_number in no_phone:
            results[0] = texts["no_phone"]
        rows[entry.row_number] = (row_cells(entry.raw, keys), results)
    for other in others:
        status = texts.get(other.code, other.code).format(
            row=other.of_row, import_id=other.of_import
        )
        rows[other.row_number] = ([str(c) for c in other.cells], [status, *[None] * 5])
    applicants = len(rows) - sum(1 for other in others if other.code == "title")
    header: list[Cell] = list(RESULT_HEADERS[lang])
    if record.header_row is None:
        # Imported before the rows around the entries were kept (migration 0013): the
        # header, then the entries in their order.
        ordered = [(list(record.columns), header)] + [rows[n] for n in sorted(rows)]
        header_index = 0
    else:
        rows[record.header_row] = (list(record.columns), header)
        blank: list[Cell] = [texts["blank"], *[None] * 5]
        ordered = [rows.get(n, ([], blank)) for n in range(1, max(rows) + 1)]
        header_index = record.header_row - 1
    width = max(len(cells) for cells, _ in ordered)
    delimiter = record.delimiter if record.file_format == "csv" and record.delimiter else ";"
    return Sheet(
        [[*cells, *[""] * (width - len(cells)), *results] for cells, results in ordered],
        header_index,
        lang=lang,
        delimiter=delimiter,
        applicants=applicants,
    )


def _results(entry: RegistryEntry, zone: ZoneInfo, lang: Lang) -> list[Cell]:
    last_call = (
        entry.last_call_at.astimezone(zone).replace(tzinfo=None)
        if entry.last_call_at is not None
        else None
    )
    return [
        STATUS_TEXT[lang].get(entry.status, entry.status),
        entry.attempts,
        RESULT_TEXT[lang].get(entry.last_result, entry.last_result),
        last_call,
        entry.confirmation_digit,
        entry.operator_comment,
    ]


def export_file(
    session: Session,
    *,
    campaign: Campaign,
    fmt: Literal["csv", "xlsx"],
    lang: Lang = "ru",
    import_id: int | None = None,
) -> tuple[bytes, int]:
    """(file bytes, rows of applicants in it) of the campaign's registry with results."""
    sheets = build_sheets(session, campaign=campaign, lang=lang, import_id=import_id)
    data = to_csv(sheets) if fmt == "csv" else to_xlsx(sheets)
    return data, sum(sheet.applicants for sheet in sheets)


def export_filename(campaign: Campaign, fmt: str) -> str:
    """An ASCII-safe file name for the download."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", campaign.name).strip("_") or f"campaign_{campaign.id}"
    return f"registry_{safe}.{fmt}"
