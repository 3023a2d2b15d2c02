"""Registry files as tables of text: CSV (sniffed delimiter and encoding) and XLSX.

Pure: bytes in, a :class:`Table` out, or a :class:`RegistryFileError` that says what is
wrong with the file and what to do about it.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

DELIMITERS = (",", ";", "\t", "|")
_XLSX_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls (and .doc)
_SNIFF_LINES = 30
_SNIFF_CHARS = 65_536  # the head the delimiter is guessed from (not every line of the file)
SUPPORTED_ENCODINGS = "UTF-8, UTF-16, Windows-1251"
SAVE_AS = (
    'open it in the spreadsheet and save it as "CSV UTF-8" (or as .xlsx), then import it again'
)
# Serbian and Macedonian letters of Windows-1251: a Russian or Ukrainian registry never has
# them, while a file in another encoding (Shift-JIS, GBK...) read as Windows-1251 is full of
# them (Shift-JIS "日本" reads as "“ъ–{").
_NOT_CP1251_TEXT = frozenset("ЂЃѓЉЊЌЋЏђљњќћџЈјЅѕ\ufffd")
MAX_CELL_CHARS = 32_767  # what a spreadsheet cell holds (Excel's limit)
MAX_COLUMNS = 256  # a registry has a few dozen columns; a cell in column XFD is not one
# An XLSX is a ZIP: what it unpacks to is checked before anything is read, so a small file
# cannot expand into gigabytes of XML (a "zip bomb"); the sizes are the archive's own.
XLSX_MAX_UNPACKED = 128 * 1024 * 1024  # all parts together
XLSX_MAX_SHARED_STRINGS = 32 * 1024 * 1024  # read whole by openpyxl (the sheet is streamed)
XLSX_MAX_RATIO = 100  # unpacked/packed of one part; real sheets compress 5-30 times
_RATIO_FLOOR = 1024 * 1024  # parts smaller than this may compress as well as they like
_BROKEN_XLSX = (
    SyntaxError,  # xml.etree's ParseError
    ValueError,
    KeyError,
    TypeError,
    IndexError,
    AttributeError,
    EOFError,
    OSError,
    zipfile.BadZipFile,
)


class RegistryFileError(ValueError):
    """The file cannot be read as a registry: the message says why and what to do (in
    English, for API clients); ``code`` and ``params`` (values only: numbers, names) let a
    page say it in its language (``error_<code>`` in web/i18n_campaigns.py)."""

    def __init__(self, message: str, *, code: str = "", params: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.params = params or {}


class EncodingProblem(RegistryFileError):
    """The file is in none of the supported encodings: where the first undecodable byte is."""

    def __init__(
        self,
        message: str,
        *,
        row: int,
        column: int,
        byte: int | None,
        messages: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, code="registry_encoding", params={"row": row, "column": column})
        self.row = row
        self.column = column
        self.byte = byte
        self.messages = messages or {}  # language (ru, uk, en) -> the message

    def localised(self, language: str) -> str:
        """The message in ``language`` (ru, uk, en), else in English."""
        return self.messages.get(language, str(self))


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
            "the file is empty: export the registry from the spreadsheet again (CSV or XLSX)",
            code="registry_empty",
        )
    if data.startswith(_XLSX_MAGIC):
        return read_xlsx(data, max_rows=max_rows)
    if data.startswith(_OLE_MAGIC):
        raise RegistryFileError(
            "this is an old Excel .xls (or another binary) file: open it in the spreadsheet "
            "and save it as .xlsx or CSV",
            code="registry_old_excel",
        )
    if filename.lower().endswith((".xlsx", ".xlsm")):
        raise RegistryFileError(
            f"{filename!r} is named .xlsx but is not an Excel workbook: save it again as .xlsx",
            code="registry_not_xlsx",
        )
    return read_csv(data, max_rows=max_rows)


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding): UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1251.

    Strict: a byte that is no character in the file's encoding raises
    :class:`EncodingProblem` naming its row and column (nothing is replaced silently).
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return _strict(data, "utf-8-sig"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _strict(data, "utf-16"), "utf-16"
    if b"\x00" in data[:4096]:
        raise RegistryFileError(
            "the file is binary, not a CSV or XLSX registry: upload the registry as CSV or XLSX",
            code="registry_binary",
        )
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc.start
    # Excel on a Russian Windows saves CSV in Windows-1251. One byte per character: the
    # first bad character's index is its byte's offset.
    text = data.decode("cp1251", errors="replace")  # 0x98 is no character: U+FFFD
    bad = next((i for i, char in enumerate(text) if char in _NOT_CP1251_TEXT), None)
    if bad is None:
        return text, "cp1251"
    # Neither: the encoding that read further is the file's (a UTF-8 file with one broken
    # byte, or a Windows-1251 file with a 0x98), and its problem is the one to show.
    if utf8_error > bad:
        raise _encoding_problem(data, utf8_error, "utf-8")
    raise _encoding_problem(data, bad, "cp1251")


_ENCODING_NAMES = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8",
    "utf-16": "UTF-16",
    "cp1251": "Windows-1251",
}


def _strict(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        # utf-8-sig counts from after the BOM it took off: the offset in the file is further
        skipped = len(data) - len(exc.object)
        raise _encoding_problem(data, exc.start + skipped, encoding) from exc


def _encoding_problem(data: bytes, offset: int, encoding: str) -> EncodingProblem:
    """The error for the byte at ``offset``: its row (line) and column (cell) in the file."""
    if encoding == "utf-16":
        offset -= offset % 2
    prefix = data[:offset].decode(encoding, errors="replace")
    row = prefix.count("\n") + 1
    line = prefix[prefix.rfind("\n") + 1 :]
    delimiter = sniff_delimiter(prefix)
    column = line.count(delimiter) + 1
    if '"' in line:
        with contextlib.suppress(csv.Error, StopIteration):  # the count of delimiters stays
            column = len(next(csv.reader([line[:_SNIFF_CHARS]], delimiter=delimiter)))
    name = _ENCODING_NAMES.get(encoding, encoding)
    byte = data[offset] if offset < len(data) else None
    letter = bytes([byte]).decode("cp1251", errors="ignore") if byte is not None else ""
    if encoding == "cp1251" and letter:  # a character, but one of another alphabet
        kind = "foreign"
    elif byte is None or (encoding != "cp1251" and offset + 1 >= len(data)):
        kind = "incomplete"
    else:
        kind = "no_character"
    values = {"row": row, "column": column, "name": name, "byte": byte or 0, "letter": letter}
    messages = {
        language: _ENCODING_MESSAGE[language].format(
            supported=SUPPORTED_ENCODINGS,
            what=_ENCODING_WHAT[kind][language].format(**values),
            **values,
        )
        for language in _ENCODING_MESSAGE
    }
    return EncodingProblem(messages["en"], row=row, column=column, byte=byte, messages=messages)


# The encoding problem in the languages of the API's messages (ru, uk, en).
_ENCODING_MESSAGE = {
    "ru": (
        "файл не в поддерживаемой кодировке ({supported}): в строке {row}, столбце {column} стоит "
        "{what}. Сохраните его в поддерживаемой кодировке: откройте файл в редакторе таблиц, "
        "сохраните как «CSV UTF-8» (или как .xlsx) и импортируйте снова"
    ),
    "uk": (
        "файл не в підтримуваному кодуванні ({supported}): у рядку {row}, стовпці {column} стоїть "
        "{what}. Збережіть його в підтримуваному кодуванні: відкрийте файл у редакторі "
        "таблиць, збережіть як «CSV UTF-8» (або як .xlsx) та імпортуйте знову"
    ),
    "en": (
        "this file is not in a supported encoding ({supported}): row {row}, column {column} "
        "has {what}. Save it in a supported encoding: " + SAVE_AS
    ),
}
_ENCODING_WHAT = {
    "foreign": {
        "ru": "байт 0x{byte:02X} («{letter}» в {name}), которого не бывает в русском или "
        "украинском тексте",
        "uk": "байт 0x{byte:02X} («{letter}» у {name}), якого не буває в російському чи "
        "українському тексті",
        "en": "the byte 0x{byte:02X} ('{letter}' in {name}), which no Russian or Ukrainian "
        "text has",
    },
    "incomplete": {
        "ru": "незавершённый символ {name} в конце файла",
        "uk": "незавершений символ {name} наприкінці файлу",
        "en": "an incomplete {name} character at the end of the file",
    },
    "no_character": {
        "ru": "байт 0x{byte:02X}, который не является символом в {name}",
        "uk": "байт 0x{byte:02X}, який не є символом у {name}",
        "en": "the byte 0x{byte:02X}, which is no character in {name}",
    },
}


def sniff_delimiter(text: str) -> str:
    """The delimiter among , ; tab | that splits the head of the file most consistently."""
    head = text[:_SNIFF_CHARS].splitlines()[:_SNIFF_LINES]
    lines = [line for line in head if line.strip()]
    if not lines:
        return ","
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        try:
            counts = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        except csv.Error:  # a cell longer than the csv module's limit: the reading says so
            continue
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
    # The module's own limit (131,072 characters) would stop at a long cell without saying
    # where; cells are measured below, against what a spreadsheet cell holds.
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = _Rows(max_rows)
    try:
        for number, cells in enumerate(reader, start=1):
            _check_cells(number, cells)
            rows.add(number, [cell.strip() for cell in cells])
    except csv.Error as exc:
        raise RegistryFileError(
            f"the CSV file cannot be read near line {reader.line_num}: {exc}; "
            "check the quotes in that line",
            code="registry_csv_unreadable",
            params={"line": reader.line_num},
        ) from exc
    # Rows are numbered as a spreadsheet opening the CSV shows them (a quoted cell may
    # span several lines of the file and still be one row).
    return Table("csv", rows.rows, encoding=encoding, delimiter=delimiter)


def _check_cells(number: int, cells: list[str]) -> None:
    for index, cell in enumerate(cells, start=1):
        if len(cell) > MAX_CELL_CHARS:
            raise RegistryFileError(
                f"row {number}, column {index} has a cell of {len(cell)} characters, more "
                f'than a spreadsheet cell holds ({MAX_CELL_CHARS}): usually a quote (") '
                "that is never closed makes the rest of the file one cell; check the quotes "
                "in that row, or shorten the cell",
                code="registry_cell_too_long",
                params={
                    "row": number,
                    "column": index,
                    "length": len(cell),
                    "limit": MAX_CELL_CHARS,
                },
            )


def check_archive(data: bytes) -> None:
    """Refuse an XLSX whose parts unpack to more than the limits, before reading any."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise RegistryFileError(
            "the file is a ZIP archive but not a readable XLSX workbook: "
            "open it in the spreadsheet and save it as .xlsx or CSV",
            code="registry_zip_not_xlsx",
        ) from exc
    total = sum(info.file_size for info in infos)
    for info in infos:
        packed = max(info.compress_size, 1)
        too_dense = info.file_size > _RATIO_FLOOR and info.file_size > XLSX_MAX_RATIO * packed
        strings = info.filename.lower().endswith("sharedstrings.xml")
        if too_dense or (strings and info.file_size > XLSX_MAX_SHARED_STRINGS):
            raise RegistryFileError(
                f"the workbook's part {info.filename!r} unpacks to {info.file_size} bytes from "
                f"{info.compress_size}, more than a registry holds: this is not a registry "
                "sheet (or it has been padded); open it in the spreadsheet, copy the registry's "
                "rows to a new workbook and save that as .xlsx or CSV",
                code="registry_part_too_large",
                params={
                    "part": info.filename,
                    "size": info.file_size,
                    "packed": info.compress_size,
                },
            )
    if total > XLSX_MAX_UNPACKED:
        raise RegistryFileError(
            f"the workbook unpacks to {total} bytes, more than {XLSX_MAX_UNPACKED}: "
            "split the registry into several files or save it as CSV",
            code="registry_workbook_too_large",
            params={"size": total, "limit": XLSX_MAX_UNPACKED},
        )


def read_xlsx(data: bytes, *, max_rows: int | None = None) -> Table:
    """The first sheet (the active one) of an XLSX workbook, read-only and streamed.

    The archive's unpacked sizes are checked first (:func:`check_archive`); rows are read
    at most :data:`MAX_COLUMNS` wide, and a value further right refuses the file.
    """
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    check_archive(data)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, *_BROKEN_XLSX) as exc:
        raise RegistryFileError(
            "the file is a ZIP archive but not a readable XLSX workbook: "
            "open it in the spreadsheet and save it as .xlsx or CSV",
            code="registry_zip_not_xlsx",
        ) from exc
    try:
        sheet = workbook.active if workbook.active is not None else workbook.worksheets[0]
        rows = _Rows(max_rows)
        for number, cells in _sheet_rows(workbook, sheet):
            rows.add(number, cells)
        notes = []
        if len(workbook.sheetnames) > 1:
            notes.append(
                f"the workbook has {len(workbook.sheetnames)} sheets; "
                f"only the active one, {sheet.title!r}, was read"
            )
        return Table("xlsx", rows.rows, sheet=str(sheet.title), notes=notes)
    except RegistryFileError:
        raise
    except _BROKEN_XLSX as exc:  # a damaged part deep in the workbook (XML, numbers, styles)
        raise RegistryFileError(
            f"the workbook cannot be read ({type(exc).__name__}): it is damaged or not made "
            "by a spreadsheet; open it in the spreadsheet and save it again as .xlsx or CSV",
            code="registry_workbook_damaged",
        ) from exc
    finally:
        workbook.close()


def _sheet_rows(workbook: Any, sheet: Any) -> Iterator[tuple[int, list[str]]]:
    """(row number, cell texts up to the last filled one) of a read-only sheet.

    openpyxl's own ``iter_rows`` pads every row to the sheet's width: one cell in column
    XFD makes each row 16,384 cells. Its streaming parser gives the cells a row really has,
    so a row costs what its XML holds; a value right of :data:`MAX_COLUMNS` refuses the
    file (however wide the sheet's ``<dimension>`` claims to be, or not).
    """
    from openpyxl.worksheet._reader import WorkSheetParser

    with sheet._get_source() as source:
        parser = WorkSheetParser(
            source,
            sheet._shared_strings,
            data_only=True,
            epoch=workbook.epoch,
            date_formats=workbook._date_formats,
            timedelta_formats=workbook._timedelta_formats,
        )
        for number, parsed in parser.parse():
            filled = {cell["column"]: text for cell in parsed if (text := cell_text(cell["value"]))}
            if not filled:
                yield number, []
                continue
            width = max(filled)
            if width > MAX_COLUMNS:
                raise RegistryFileError(
                    f"row {number} has a value in column {width}; a registry has at most "
                    f"{MAX_COLUMNS} columns: delete the columns right of the registry in the "
                    "spreadsheet and save it again",
                    code="registry_too_many_columns",
                    params={"row": number, "column": width, "limit": MAX_COLUMNS},
                )
            yield number, [filled.get(column, "") for column in range(1, width + 1)]


def _filled_width(cells: list[str]) -> int:
    for index in range(len(cells), 0, -1):
        if cells[index - 1]:
            return index
    return 0


class _Rows:
    """Rows as read, with a limit on rows; empty rows are kept only when a filled row
    follows (a sheet's thousands of formatted blank rows at the end cost nothing), and
    those count against the limit like filled ones: a file of blank lines is not free."""

    def __init__(self, max_rows: int | None) -> None:
        self.rows: list[tuple[int, list[str]]] = []
        self.max_rows = max_rows
        self._counted = 0  # rows kept: filled ones and the blank ones between them
        self._blank_from = 0  # first of the blank rows waiting for a filled one (0: none)
        self._blanks = 0
        self._last = 0  # number of the row added last

    def add(self, number: int, cells: list[str]) -> None:
        """One row; rows missing between ``number`` and the one before are blank."""
        if number > self._last + 1:
            if not self._blanks:
                self._blank_from = self._last + 1
            self._blanks += number - self._last - 1
        self._last = number
        if not any(cells):
            if not self._blanks:
                self._blank_from = number
            self._blanks += 1
            return
        self._counted += self._blanks + 1
        # +1: the header row does not count against the limit of data rows.
        if self.max_rows is not None and self._counted > self.max_rows + 1:
            raise RegistryFileError(
                f"the file has more than {self.max_rows} rows (CALLAGENT_REGISTRY_MAX_ROWS, "
                "blank rows between them included): split it into several files",
                code="registry_too_many_rows",
                params={"limit": self.max_rows},
            )
        if self._blanks:
            self.rows.extend((blank, []) for blank in range(self._blank_from, number))
            self._blanks = 0
        self.rows.append((number, cells))


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


_EXTRA_KEY = re.compile(r"^Column (\d+)$")


def row_values(cells: list[str], keys: list[str]) -> dict[str, str]:
    """A data row's filled cells by header key; cells right of the header under
    ``Column N`` (N the column's number), so that :func:`row_cells` puts them back."""
    values = {key: cell for key, cell in zip(keys, cells, strict=False) if cell}
    for number, cell in enumerate(cells[len(keys) :], start=len(keys) + 1):
        if cell:
            values.setdefault(f"Column {number}", cell)
    return values


def row_cells(values: Mapping[str, object], keys: list[str]) -> list[str]:
    """The inverse of :func:`row_values`: the cells in their columns (empty ones as '')."""
    where = {key: index for index, key in enumerate(keys)}
    placed: dict[int, str] = {}
    unplaced: list[str] = []
    for key, value in values.items():
        index = where.get(key)
        if index is None and (extra := _EXTRA_KEY.match(key)) is not None:
            index = int(extra.group(1)) - 1
        if index is None or index in placed:
            unplaced.append(str(value))  # not stored by this version: kept, at the right
        else:
            placed[index] = str(value)
    width = max(placed, default=-1) + 1
    return [placed.get(index, "") for index in range(width)] + unplaced
