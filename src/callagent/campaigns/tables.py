"""Registry files as tables of text: CSV (sniffed delimiter and encoding) and XLSX.

Pure: bytes in, a :class:`Table` out, or a :class:`RegistryFileError` that says what is
wrong with the file and what to do about it.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time

DELIMITERS = (",", ";", "\t", "|")
_XLSX_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls (and .doc)
_SNIFF_LINES = 30


class RegistryFileError(ValueError):
    """The file cannot be read as a registry: the message says why and what to do."""


@dataclass
class Table:
    """A registry file's cells as text: rows numbered as a spreadsheet shows them."""

    file_format: str  # csv | xlsx
    rows: list[tuple[int, list[str]]]  # (row number in the file, cells)
    encoding: str = ""
    delimiter: str = ""
    sheet: str = ""
    notes: list[str] = field(default_factory=list)


def read_table(data: bytes, filename: str = "", *, max_rows: int | None = None) -> Table:
    """The file's rows, whatever it is among CSV (any common encoding/delimiter) and XLSX."""
    if not data.strip():
        raise RegistryFileError(
            "the file is empty: export the registry from the spreadsheet again (CSV or XLSX)"
        )
    if data.startswith(_XLSX_MAGIC):
        return read_xlsx(data, max_rows=max_rows)
    if data.startswith(_OLE_MAGIC):
        raise RegistryFileError(
            "this is an old Excel .xls (or another binary) file: open it in the spreadsheet "
            "and save it as .xlsx or CSV"
        )
    if filename.lower().endswith((".xlsx", ".xlsm")):
        raise RegistryFileError(
            f"{filename!r} is named .xlsx but is not an Excel workbook: save it again as .xlsx"
        )
    return read_csv(data, max_rows=max_rows)


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding): UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1251."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    if b"\x00" in data[:4096]:
        raise RegistryFileError(
            "the file is binary, not a CSV or XLSX registry: upload the registry as CSV or XLSX"
        )
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        # Excel on a Russian Windows saves CSV in Windows-1251; it decodes any byte.
        return data.decode("cp1251"), "cp1251"


def sniff_delimiter(text: str) -> str:
    """The delimiter among , ; tab | that splits the head of the file most consistently."""
    head = text.splitlines()[:_SNIFF_LINES]
    lines = [line for line in head if line.strip()]
    if not lines:
        return ","
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        counts = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        widest = max(counts)
        if widest < 2:
            continue
        # Rows that agree with the most common width; then the width itself.
        common = max(set(counts), key=counts.count)
        score = (counts.count(common) if common > 1 else 0, common)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def read_csv(data: bytes, *, max_rows: int | None = None) -> Table:
    """A CSV registry: encoding and delimiter found from the content."""
    text, encoding = decode(data)
    text = text.replace("\x00", "")  # a stray NUL deep in a text file: not storable
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = _Rows(max_rows)
    try:
        for number, cells in enumerate(reader, start=1):
            rows.add(number, [cell.strip() for cell in cells])
    except csv.Error as exc:
        raise RegistryFileError(
            f"the CSV file cannot be read near line {reader.line_num}: {exc}; "
            "check the quotes in that line"
        ) from exc
    # Rows are numbered as a spreadsheet opening the CSV shows them (a quoted cell may
    # span several lines of the file and still be one row).
    return Table("csv", rows.rows, encoding=encoding, delimiter=delimiter)


def read_xlsx(data: bytes, *, max_rows: int | None = None) -> Table:
    """The first sheet (the active one) of an XLSX workbook, read-only."""
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError) as exc:
        raise RegistryFileError(
            "the file is a ZIP archive but not a readable XLSX workbook: "
            "open it in the spreadsheet and save it as .xlsx or CSV"
        ) from exc
    try:
        sheet = workbook.active if workbook.active is not None else workbook.worksheets[0]
        rows = _Rows(max_rows)
        for index, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            rows.add(index, [cell_text(value) for value in values])
        notes = []
        if len(workbook.sheetnames) > 1:
            notes.append(
                f"the workbook has {len(workbook.sheetnames)} sheets; "
                f"only the active one, {sheet.title!r}, was read"
            )
        return Table("xlsx", _trim(rows.rows), sheet=str(sheet.title), notes=notes)
    finally:
        workbook.close()


def _trim(rows: list[tuple[int, list[str]]]) -> list[tuple[int, list[str]]]:
    """Drop the empty cells right of the last filled column (read-only sheets pad rows)."""
    width = max((_filled_width(cells) for _, cells in rows), default=0)
    return [(number, cells[:width]) for number, cells in rows]


def _filled_width(cells: list[str]) -> int:
    for index in range(len(cells), 0, -1):
        if cells[index - 1]:
            return index
    return 0


class _Rows:
    """Rows as read, with a limit on filled rows; empty rows are kept only when a filled
    row follows (a sheet's thousands of formatted blank rows at the end cost nothing)."""

    def __init__(self, max_rows: int | None) -> None:
        self.rows: list[tuple[int, list[str]]] = []
        self.max_rows = max_rows
        self._filled = 0
        self._blank: list[int] = []

    def add(self, number: int, cells: list[str]) -> None:
        if not any(cells):
            self._blank.append(number)
            return
        self.rows.extend((blank, []) for blank in self._blank)
        self._blank.clear()
        self.rows.append((number, cells))
        self._filled += 1
        # +1: the header row does not count against the limit of data rows.
        if self.max_rows is not None and self._filled > self.max_rows + 1:
            raise RegistryFileError(
                f"the file has more than {self.max_rows} rows (CALLAGENT_REGISTRY_MAX_ROWS): "
                "split it into several files"
            )


def cell_text(value: object) -> str:
    """A spreadsheet cell as the text a person sees (numbers without '.0', dates d.m.Y)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "да" if value else "нет"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return value.strftime("%d.%m.%Y")
        return value.strftime("%d.%m.%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y")
    return str(value).strip()


def column_keys(columns: Iterable[str]) -> list[str]:
    """Unique keys for a header row: a repeated or empty header gets a numbered key.

    ``["Телефон", "Телефон", ""]`` -> ``["Телефон", "Телефон (2)", "Column 3"]``; the
    registry stores cells under these keys and exports them under the original headers.
    """
    keys: list[str] = []
    seen: set[str] = set()
    for index, name in enumerate(columns, start=1):
        key = name or f"Column {index}"
        if key in seen:
            suffix = 2
            while f"{key} ({suffix})" in seen:
                suffix += 1
            key = f"{key} ({suffix})"
        seen.add(key)
        keys.append(key)
    return keys
