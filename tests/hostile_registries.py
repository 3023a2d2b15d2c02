"""Hostile and normal registry files, built at run time (small on disk), and the peak memory
of reading one in a child process: shared by tests/test_registry_hostile.py and
bench/hostile_files.py.

The builders write the ZIP parts of an XLSX directly: a spreadsheet would not write such
files, which is the point (issue 15, point 6).
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HEADER = ("ФИО", "Телефон", "Номер дела", "Услуга", "Офис")
_OOXML = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'  # noqa: E501
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{_OOXML}.sheet.main+xml"/>'
    f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_OOXML}.worksheet+xml"/>'
    f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_OOXML}.sharedStrings+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_RELATIONSHIPS}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Реестр" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_RELATIONSHIPS}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_RELATIONSHIPS}/sharedStrings" Target="sharedStrings.xml"/>'
    "</Relationships>"
)
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<dimension ref="{ref}"/><sheetData>'
)
_SHEET_TAIL = "</sheetData></worksheet>"
_CHUNK = 1 << 20


def _inline(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def _header_row() -> str:
    cells = "".join(_inline(f"{chr(65 + i)}1", name) for i, name in enumerate(HEADER))
    return f'<row r="1">{cells}</row>'


def _person(number: int) -> tuple[str, str, str, str, str]:
    return (
        f"Иванова Мария Петровна {number}",
        f"+7 916 {number % 1000:03d}-{number // 1000 % 100:02d}-{number % 97:02d}",
        f"Д-{number:07d}",
        "Паспорт гражданина РФ",
        f"МФЦ-{number % 40}",
    )


def _xlsx(
    path: Path, sheet: Iterator[str], shared: Iterator[str] | None = None, ref: str = "A1"
) -> Path:
    """An XLSX whose sheet XML (and shared strings) stream from the iterators."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            part.write(_SHEET_HEAD.format(ref=ref).encode())
            _write_chunks(part, sheet)
            part.write(_SHEET_TAIL.encode())
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            part.write(
                b'<?xml version="1.0" encoding="UTF-8"?>'
                b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            )
            _write_chunks(part, shared or iter(()))
            part.write(b"</sst>")
    return path


def _write_chunks(part: Any, pieces: Iterator[str]) -> None:
    buffer: list[str] = []
    size = 0
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= _CHUNK:
            part.write("".join(buffer).encode())
            buffer, size = [], 0
    part.write("".join(buffer).encode())


def wide_xlsx(path: Path, rows: int = 100_000) -> Path:
    """One cell in column XFD (the last, 16,384th) on every row: ~1.5 MB for 100k rows."""

    def sheet() -> Iterator[str]:
        yield _header_row()
        for row in range(2, rows + 1):
            yield f'<row r="{row}">{_inline(f"XFD{row}", "x")}</row>'

    return _xlsx(path, sheet(), ref=f"A1:XFD{rows}")


def bomb_xlsx(path: Path, unpacked: int = 1_500_000_000) -> Path:
    """A registry sheet plus shared strings that unpack to ``unpacked`` bytes of XML."""
    item = "<si><t>ab</t></si>"
    block = item * (_CHUNK // len(item))

    def shared() -> Iterator[str]:
        for _ in range(unpacked // len(block)):
            yield block

    def sheet() -> Iterator[str]:
        yield _header_row()
        yield f'<row r="2">{_inline("A2", "Орлов Олег")}{_inline("B2", "9160003344")}</row>'

    return _xlsx(path, sheet(), shared(), ref="A1:E2")


def blank_lines_csv(path: Path, size: int = 5_000_000) -> Path:
    """A header, ``size`` blank lines, then one applicant: 5 MB by default."""
    with path.open("wb") as out:
        out.write(";".join(HEADER).encode() + b"\n")
        for _ in range(size // _CHUNK):
            out.write(b"\n" * _CHUNK)
        out.write(b"\n" * (size % _CHUNK))
        out.write(";".join(_person(1)).encode() + b"\n")
    return path


def normal_csv(path: Path, size: int, max_rows: int = 100_000) -> Path:
    """A real-looking registry (UTF-8, ';') of about ``size`` bytes, or of ``max_rows``
    rows if that is less."""
    with path.open("wb") as out:
        written = out.write(";".join(HEADER).encode() + b"\n")
        number = 1
        while written < size and number <= max_rows:
            written += out.write(";".join(_person(number)).encode() + b"\n")
            number += 1
    return path


def normal_xlsx(path: Path, size: int, max_rows: int = 100_000) -> Path:
    """A real-looking registry sheet (inline strings) of about ``size`` bytes zipped, or of
    ``max_rows`` rows if that is less (what the row limit lets in)."""
    rows = max(1, min(max_rows, size // 27))  # ~27 bytes per row zipped (measured)

    def sheet() -> Iterator[str]:
        yield _header_row()
        for number in range(2, rows + 2):
            cells = "".join(
                _inline(f"{chr(65 + i)}{number}", text) for i, text in enumerate(_person(number))
            )
            yield f'<row r="{number}">{cells}</row>'

    return _xlsx(path, sheet(), ref=f"A1:E{rows + 1}")


_CHILD = """
import json, resource, sys
limit = int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))  # old code: MemoryError, not a dead box
import openpyxl  # noqa: F401  (loaded before the baseline, as in the service)
from callagent.campaigns.registry_import import prepare
from callagent.campaigns.tables import RegistryFileError, read_table

def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

path, max_rows = sys.argv[1], int(sys.argv[2])
before = peak()
result = {"outcome": "read", "message": ""}
try:
    with open(path, "rb") as stream:
        data = stream.read()
    prepared = prepare(read_table(data, path, max_rows=max_rows))
    result["rows"] = prepared.rows_total
except RegistryFileError as exc:
    result.update(outcome="refused", message=str(exc))
except BaseException as exc:
    result.update(outcome="crashed", message=f"{type(exc).__name__}: {exc}"[:500])
result.update(before=before, peak=peak())
print(json.dumps(result))
"""


def measure_read(
    path: Path, *, max_rows: int = 100_000, timeout: float = 180, address_limit: int = 3 << 30
) -> dict[str, Any]:
    """Read and map ``path`` in a child process: outcome, message and the peak resident
    memory over what the child had before reading (``growth``, bytes)."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), str(max_rows), str(address_limit)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    if not lines:
        return {"outcome": "died", "message": done.stderr[-500:], "growth": 1 << 40}
    result: dict[str, Any] = json.loads(lines[-1])
    result["growth"] = result["peak"] - result["before"]
    return result
