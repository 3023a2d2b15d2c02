"""Spreadsheets out: CSV and XLSX that open right in Excel and never run a cell as a
formula. One way for every export (registries with results, reports)."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime

Cell = str | int | float | datetime | None

_TIME_FORMAT = {"ru": "%d.%m.%Y %H:%M", "uk": "%d.%m.%Y %H:%M", "en": "%Y-%m-%d %H:%M"}
_XLSX_TIME_FORMAT = {"ru": "DD.MM.YYYY HH:MM", "uk": "DD.MM.YYYY HH:MM", "en": "YYYY-MM-DD HH:MM"}
_PHONE_LIKE = re.compile(r"^[+\-\d\s().]+$")


@dataclass
class Sheet:
    """One worksheet: ``rows`` in order (times naive, in the zone the caller chose), the
    header row's index (bold in XLSX). A registry export: ``rows[n - 1]`` is row n of the
    upload, its cells as they were and the result columns to their right."""

    rows: list[list[Cell]]
    header_index: int  # the header row's index in ``rows`` (bold in XLSX)
    lang: str = "ru"
    delimiter: str = ";"
    title: str = "Реестр"
    applicants: int = 0  # rows of personal data (applicants): the audit's count

    @property
    def headers(self) -> list[Cell]:
        """The header row with the result headers."""
        return self.rows[self.header_index]


def safe_text(value: str) -> str:
    """A cell that a spreadsheet will not run as a formula (phone numbers stay as they are)."""
    if value[:1] in ("=", "@", "\t", "\r") or (
        value[:1] in ("+", "-") and not _PHONE_LIKE.match(value)
    ):
        return "'" + value
    return value


def to_csv(sheets: list[Sheet]) -> bytes:
    """UTF-8 with a BOM (Excel opens it as such), the imported file's delimiter; several
    uploads one after another, each row for row."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=sheets[0].delimiter, lineterminator="\r\n")
    for sheet in sheets:
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


def to_xlsx(sheets: list[Sheet]) -> bytes:
    """One worksheet per upload, text cells kept as text (numbers with leading zeros or +
    stay intact), the header row bold."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    for sheet in sheets:
        worksheet = workbook.create_sheet(title=sheet.title[:31] or "Registry")
        time_format = _XLSX_TIME_FORMAT[sheet.lang]
        for index, row in enumerate(sheet.rows):
            cells: list[WriteOnlyCell] = []
            for value in row:
                cell = WriteOnlyCell(worksheet, value=value)
                if index == sheet.header_index:
                    cell.font = bold
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
