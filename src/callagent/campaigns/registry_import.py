"""Registry import: a CSV/XLSX file of applicants becomes registry entries of a campaign.

The pure core (:func:`prepare`, :func:`classify`) maps columns, normalises phones and
finds bad rows; :func:`import_registry` is the edge that reads the database (the
do-not-call list, entries already imported) and writes one import in one transaction.
Every row that is not called goes into the import report with its row number and reason.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callagent.campaigns.phones import Phone, parse_phone, split_cell
from callagent.campaigns.tables import (
    RegistryFileError,
    Table,
    column_keys,
    read_table,
    row_cells,
    row_values,
)
from callagent.db.campaign_models import (
    DoNotCall,
    RegistryEntry,
    RegistryImport,
    RegistryRow,
    utcnow,
)

log = logging.getLogger(__name__)

FIELDS = ("name", "phones", "case_number", "service", "office", "ready_date", "note")
IGNORE = "ignore"  # in a mapping: columns that are no field, whatever their header says
MULTI_COLUMN_FIELDS = frozenset({"name", "phones", IGNORE})  # name: surname + first name...
FIELD_ALIASES = {
    "phone": "phones",
    "telephone": "phones",
    "applicant": "name",
    "applicant_name": "name",
    "fio": "name",
    "case": "case_number",
    "document": "case_number",
    "document_number": "case_number",
    "ready": "ready_date",
    "comment": "note",
}
# Header words that name a field, tried in this order (a header goes to one field only).
# A word matches when a header word starts with it ("телефоны", "phone_2").
_DEFAULT_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("phones", ("телефон", "тел", "phone", "tel", "mobile", "моб", "сотов", "контакт")),
    ("ready_date", ("готов", "ready", "дата", "date")),
    ("case_number", ("дела", "дело", "делу", "case", "документ", "document", "заявлени")),
    ("service", ("услуг", "service")),
    ("office", ("офис", "мфц", "office", "отделени", "филиал", "branch")),
    ("note", ("примечан", "коммент", "note", "comment", "remark")),
    (
        "name",
        ("фио", "заявител", "получател", "applicant", "фамил", "имя", "отчеств", "name"),
    ),
)
_NOT_A_FIELD = ("рожд", "birth")  # "Дата рождения" is not the ready date
_EXACT_ONLY = frozenset({"тел", "tel", "дата", "date", "имя", "name"})  # too short to prefix
_HEADER_SEARCH_ROWS = 10
_MAX_KEY = 128
FLUSH_EVERY = 500  # entries per INSERT batch (tests lower it to fail an import mid-way)
_IN_CHUNK = 500


class MappingError(RegistryFileError):
    """The column mapping does not fit the file: the message names the columns there are."""


@dataclass
class RowIssue:
    """One line of the import report."""

    row: int
    code: str  # empty_row, no_phone, invalid_phone, duplicate_in_file, duplicate, do_not_call
    reason: str
    values: dict[str, str]
    imported: bool = False  # True: the row is called anyway (e.g. on its other numbers)
    of_import: int | None = None  # a duplicate: the import (None: this file) ...
    of_row: int | None = None  # ... and row it repeats

    def as_dict(self) -> dict[str, Any]:
        """The JSON form stored in ``registry_imports.report``."""
        return {
            "row": self.row,
            "code": self.code,
            "reason": self.reason,
            "values": self.values,
            "imported": self.imported,
        }


@dataclass
class Candidate:
    """A data row ready to become an entry (status pending or invalid)."""

    row_number: int
    dedupe_key: str
    name: str
    phones: list[Phone]
    case_number: str
    service: str
    office: str
    ready_date: str
    note: str
    raw: dict[str, str]
    status: str = "pending"


@dataclass
class Prepared:
    """A file read and mapped: its header, the candidates and the rows already rejected."""

    table: Table
    header_row: int
    columns: list[str]
    keys: list[str]
    mapping: dict[str, list[str]]  # field -> header keys
    rows_total: int
    candidates: list[Candidate] = field(default_factory=list)
    issues: list[RowIssue] = field(default_factory=list)
    # filled rows above the header (a title, the date of the list): given back as they were
    title_rows: list[tuple[int, list[str]]] = field(default_factory=list)


@dataclass
class Classified:
    """What goes into the database, and the full report."""

    entries: list[Candidate]
    issues: list[RowIssue]

    @property
    def rows_imported(self) -> int:
        """Entries that will be called."""
        return sum(1 for entry in self.entries if entry.status == "pending")


def normalise_header(text: str) -> str:
    """Lower case, ё as е, punctuation as spaces: ``Ф.И.О.:`` -> ``ф и о``."""
    text = text.lower().replace("ё", "е")
    text = re.sub(r"[^\w]+", " ", text)
    return " ".join(text.split())


def _compact(header: str) -> str:
    return normalise_header(header).replace(" ", "")


def _field_of(header: str) -> str | None:
    words = normalise_header(header).split()
    compact = "".join(words)
    if any(word.startswith(_NOT_A_FIELD) for word in words):
        return None
    for name, stems in _DEFAULT_WORDS:
        for stem in stems:
            if stem in _EXACT_ONLY:
                if stem in words:
                    return name
            elif any(word.startswith(stem) for word in words) or compact.startswith(stem):
                return name
    return None


def canonical_field(name: str) -> str:
    """A mapping key as one of :data:`FIELDS` or ``ignore`` (accepting a few aliases),
    else MappingError."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    key = FIELD_ALIASES.get(key, key)
    if key not in FIELDS and key != IGNORE:
        raise MappingError(
            f"unknown field {name!r} in the column mapping; fields: {', '.join(FIELDS)} "
            f"(and {IGNORE} for columns to leave out)",
            code="registry_mapping_unknown_field",
            params={"field": name, "fields": ", ".join(FIELDS)},
        )
    return key


def layout_key(columns: list[str]) -> str:
    """The SHA-256 of a header row (empty cells at its right end left out): registries of
    the same layout have the same key, whatever their rows."""
    cells = list(columns)
    while cells and not cells[-1]:
        cells.pop()
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode()).hexdigest()


def parse_mapping(items: Mapping[str, str | list[str]] | None) -> dict[str, list[str]]:
    """An explicit mapping (field -> header or headers) with canonical field names."""
    result: dict[str, list[str]] = {}
    for name, headers in (items or {}).items():
        values = [headers] if isinstance(headers, str) else list(headers)
        values = [str(v) for v in values if str(v).strip()]
        if not values:
            raise MappingError(
                f"the mapping of {name!r} names no column",
                code="registry_mapping_no_column",
                params={"field": name},
            )
        key = canonical_field(name)
        if len(values) > 1 and key not in MULTI_COLUMN_FIELDS:
            raise MappingError(
                f"{key!r} takes one column, the mapping names {len(values)}",
                code="registry_mapping_one_column",
                params={"field": key, "count": len(values)},
            )
        result.setdefault(key, []).extend(values)
    return result


def map_columns(columns: list[str], explicit: Mapping[str, list[str]]) -> dict[str, list[int]]:
    """Field -> column indexes: the explicit mapping first, then the default header names."""
    keys = column_keys(columns)
    by_name: dict[str, int] = {}
    for index, (column, key) in enumerate(zip(columns, keys, strict=True)):
        by_name.setdefault(key, index)
        by_name.setdefault(_compact(column), index)
        by_name.setdefault(_compact(key), index)
    result: dict[str, list[int]] = {}
    taken: set[int] = set()
    for name, headers in explicit.items():
        for header in headers:
            found = by_name.get(header, by_name.get(_compact(header)))
            if found is None:
                raise MappingError(
                    f"the mapping names column {header!r} for {name!r}, but the file has no "
                    f"such column; its columns: {', '.join(repr(c) for c in columns)}",
                    code="registry_mapping_missing_column",
                    params={"column": header, "field": name, "columns": _listed(columns)},
                )
            if name != IGNORE:
                result.setdefault(name, []).append(found)
            taken.add(found)
    for index, column in enumerate(columns):
        if index in taken or not column:
            continue
        detected = _field_of(column)
        if detected is None or detected in explicit:
            continue
        if detected in result and detected not in MULTI_COLUMN_FIELDS:
            continue
        result.setdefault(detected, []).append(index)
        taken.add(index)
    return result


def find_header(table: Table, explicit: Mapping[str, list[str]]) -> int:
    """The index in ``table.rows`` of the header: the first row that maps a phone column."""
    looked: list[list[str]] = []
    for index, (_, cells) in enumerate(table.rows):
        if not any(cells):
            continue
        if len(looked) >= _HEADER_SEARCH_ROWS:
            break
        looked.append(cells)
        try:
            mapping = map_columns(cells, explicit)
        except MappingError:
            continue
        if "phones" in mapping:
            return index
    if not looked:
        raise RegistryFileError(
            "the file has no rows: export the registry again", code="registry_no_rows"
        )
    if explicit:
        # Let the mapping's own error name the columns of the first row.
        map_columns(looked[0], explicit)
    raise MappingError(
        "no column of phone numbers was found (looked for headers such as 'Телефон', "
        "'Телефоны', 'Phone'); the first row has: "
        + ", ".join(repr(c) for c in looked[0] if c)
        + ". Name the phone column(s) in the mapping, e.g. phones=<header>",
        code="registry_no_phone_column",
        params={"headers": _listed(looked[0])},
    )


def _listed(columns: Iterable[str]) -> str:
    """Column headers as a page shows them in a refusal: «a», «b» (empty ones left out)."""
    return ", ".join(f"«{column}»" for column in columns if column)


def _key(text: str) -> str:
    return text if len(text) <= _MAX_KEY else "sha:" + hashlib.sha256(text.encode()).hexdigest()


def dedupe_key(case_number: str, phones: list[Phone], name: str, cells: Iterable[str]) -> str:
    """The case number when there is one, else the first number with the name."""
    if case_number:
        return _key("case:" + " ".join(case_number.casefold().split()))
    if phones:
        return _key(f"tel:{phones[0].e164}|" + " ".join(name.casefold().split()))
    digest = hashlib.sha256("\x1f".join(cells).encode()).hexdigest()[:40]
    return "row:" + digest


def _cut(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def prepare(
    table: Table, explicit: Mapping[str, list[str]] | None = None, region: str = "RU"
) -> Prepared:
    """Map the columns and read every data row into a candidate entry or a report line."""
    explicit = explicit or {}
    header_index = find_header(table, explicit)
    header_row, columns = table.rows[header_index]
    keys = column_keys(columns)
    indexes = map_columns(columns, explicit)
    mapping = {name: [keys[i] for i in cols] for name, cols in indexes.items()}
    data = table.rows[header_index + 1 :]
    while data and not any(data[-1][1]):  # trailing empty rows are not rows of the registry
        data.pop()
    if not data:
        raise RegistryFileError(
            f"the file has a header (row {header_row}) but no rows below it: "
            "export the registry again with its rows",
            code="registry_header_only",
            params={"row": header_row},
        )
    prepared = Prepared(table, header_row, columns, keys, mapping, rows_total=len(data))
    prepared.title_rows = [(n, cells) for n, cells in table.rows[:header_index] if any(cells)]
    seen: dict[str, int] = {}
    for number, cells in data:
        cells = cells + [""] * (len(keys) - len(cells))
        values = row_values(cells, keys)  # cells right of the header under numbered keys
        if not values:
            prepared.issues.append(RowIssue(number, "empty_row", "empty row", {}))
            continue
        candidate, issue = _read_row(number, cells, values, indexes, region)
        if issue is not None:
            prepared.issues.append(issue)
        if candidate is None:
            continue
        first = seen.get(candidate.dedupe_key)
        if first is not None:
            what = "case number" if candidate.case_number else "phone number and name"
            prepared.issues.append(
                RowIssue(
                    number,
                    "duplicate_in_file",
                    f"duplicate of row {first} (same {what}); row {first} is imported",
                    values,
                    of_row=first,
                )
            )
            continue
        seen[candidate.dedupe_key] = number
        prepared.candidates.append(candidate)
    return prepared


def _read_row(
    number: int,
    cells: list[str],
    values: dict[str, str],
    indexes: Mapping[str, list[int]],
    region: str,
) -> tuple[Candidate | None, RowIssue | None]:
    def text(name: str, size: int) -> str:
        parts = [cells[i] for i in indexes.get(name, []) if i < len(cells) and cells[i]]
        return _cut(" ".join(parts), size)

    phones: list[Phone] = []
    bad_columns: list[str] = []
    written = 0
    for index in indexes.get("phones", []):
        for piece in split_cell(cells[index] if index < len(cells) else ""):
            if not any(ch.isdigit() for ch in piece):
                continue  # "нет", "не указан": no number written
            written += 1
            phone = parse_phone(piece, region)
            if phone is None:
                bad_columns.append(str(index))
            elif phone.e164 not in {p.e164 for p in phones}:
                phones.append(phone)
    name = text("name", 255)
    case_number = text("case_number", 120)
    candidate = Candidate(
        row_number=number,
        dedupe_key=dedupe_key(case_number, phones, name, cells),
        name=name,
        phones=phones,
        case_number=case_number,
        service=text("service", 255),
        office=text("office", 255),
        ready_date=text("ready_date", 64),
        note=text("note", 4000),
        raw=values,
    )
    if not written:
        candidate.status = "invalid"
        return candidate, RowIssue(number, "no_phone", "no phone number in the row", values)
    if not phones:
        candidate.status = "invalid"
        reason = (
            f"not a valid phone number (region {region} when written without a country code)"
            if written == 1
            else f"none of the {written} phone numbers is valid (region {region})"
        )
        return candidate, RowIssue(number, "invalid_phone", reason, values)
    if bad_columns:
        reason = (
            f"{len(bad_columns)} of {written} phone numbers are not valid and were left out; "
            f"the row is called on the other {len(phones)}"
        )
        return candidate, RowIssue(number, "invalid_phone", reason, values, imported=True)
    return candidate, None


def classify(
    prepared: Prepared,
    do_not_call: set[str],
    existing: Mapping[str, tuple[int, int]],
) -> Classified:
    """Apply the do-not-call list and the entries already in the campaign (key -> import,
    row): what is stored, and the complete report sorted by row."""
    entries: list[Candidate] = []
    issues = list(prepared.issues)
    for original in prepared.candidates:
        candidate = replace(original)  # classify may run twice (a retried transaction)
        earlier = existing.get(candidate.dedupe_key)
        if earlier is not None:
            what = "case number" if candidate.case_number else "phone number and name"
            issues.append(
                RowIssue(
                    candidate.row_number,
                    "duplicate",
                    f"already in the campaign (same {what}) from import {earlier[0]}, "
                    f"row {earlier[1]}",
                    candidate.raw,
                    of_import=earlier[0],
                    of_row=earlier[1],
                )
            )
            continue
        blocked = [p for p in candidate.phones if p.e164 in do_not_call]
        if blocked and len(blocked) == len(candidate.phones):
            candidate.status = "do_not_call"
            issues.append(
                RowIssue(
                    candidate.row_number,
                    "do_not_call",
                    "the number is on the do-not-call list"
                    if len(blocked) == 1
                    else "every number of the row is on the do-not-call list",
                    candidate.raw,
                )
            )
        elif blocked:
            candidate.phones = [p for p in candidate.phones if p.e164 not in do_not_call]
            issues.append(
                RowIssue(
                    candidate.row_number,
                    "do_not_call",
                    f"{len(blocked)} number(s) on the do-not-call list left out; "
                    f"the row is called on the other {len(candidate.phones)}",
                    candidate.raw,
                    imported=True,
                )
            )
        entries.append(candidate)
    issues.sort(key=lambda issue: issue.row)
    return Classified(entries, issues)


@dataclass
class ImportOutcome:
    """The import row (with its report) and whether it was done earlier (same file)."""

    record: RegistryImport
    repeated: bool
    notes: list[str] = field(default_factory=list)


def _chunks(items: list[str], size: int = _IN_CHUNK) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _on_do_not_call(session: Session, phones: set[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(sorted(phones)):
        found.update(session.scalars(select(DoNotCall.phone).where(DoNotCall.phone.in_(chunk))))
    return found


def _existing_keys(
    session: Session, campaign_id: int, keys: list[str]
) -> dict[str, tuple[int, int]]:
    found: dict[str, tuple[int, int]] = {}
    for chunk in _chunks(keys):
        rows = session.execute(
            select(RegistryEntry.dedupe_key, RegistryEntry.import_id, RegistryEntry.row_number)
            .where(RegistryEntry.campaign_id == campaign_id)
            .where(RegistryEntry.dedupe_key.in_(chunk))
        )
        for key, import_id, row in rows:
            found[key] = (import_id, row)
    return found


def file_sha256(data: bytes) -> str:
    """The hex SHA-256 of a file: the same file imported twice is recognised by it."""
    return hashlib.sha256(data).hexdigest()


def _earlier(session: Session, campaign_id: int, sha256: str) -> RegistryImport | None:
    return session.scalar(
        select(RegistryImport).where(
            RegistryImport.campaign_id == campaign_id, RegistryImport.sha256 == sha256
        )
    )


def import_registry(
    session: Session,
    *,
    campaign_id: int,
    data: bytes,
    filename: str,
    mapping: Mapping[str, str | list[str]] | None = None,
    actor: str = "",
    region: str = "RU",
    max_bytes: int | None = None,
    max_rows: int | None = None,
) -> ImportOutcome:
    """Import a registry file into a campaign, all valid rows or none, and commit.

    The same file again returns the earlier import (nothing is added). Raises
    :class:`RegistryFileError` (or :class:`MappingError`) for a file that cannot be read.
    """
    if max_bytes is not None and len(data) > max_bytes:
        raise RegistryFileError(
            f"the file has {len(data)} bytes, more than the limit of {max_bytes} "
            "(CALLAGENT_REGISTRY_MAX_BYTES): split it into several files",
            code="registry_too_big",
            params={"size": len(data), "limit": max_bytes},
        )
    sha256 = file_sha256(data)
    earlier = _earlier(session, campaign_id, sha256)
    if earlier is not None:
        return ImportOutcome(earlier, repeated=True)
    explicit = parse_mapping(mapping)
    table = read_table(data, filename, max_rows=max_rows)
    prepared = prepare(table, explicit, region)
    table.rows.clear()  # every cell is in a candidate or a report line now (100k rows: -20 MB)
    if max_rows is not None and prepared.rows_total > max_rows:
        raise RegistryFileError(
            f"the file has {prepared.rows_total} rows, more than {max_rows} "
            "(CALLAGENT_REGISTRY_MAX_ROWS): split it into several files",
            code="registry_rows_over_limit",
            params={"rows": prepared.rows_total, "limit": max_rows},
        )
    for attempt in range(2):
        try:
            record = _write(session, campaign_id, filename, sha256, actor, prepared)
        except IntegrityError:
            # A concurrent import took the same file or some of the same entries: look
            # again with its rows committed (they become duplicates in our report).
            session.rollback()
            earlier = _earlier(session, campaign_id, sha256)
            if earlier is not None:
                return ImportOutcome(earlier, repeated=True)
            if attempt:
                raise
            continue
        break
    log.info(
        "registry import %s into campaign %s: %s of %s rows to call, %s reported",
        record.id,
        campaign_id,
        record.rows_imported,
        record.rows_total,
        len(record.report),
    )
    return ImportOutcome(record, repeated=False, notes=list(table.notes))


def _write(
    session: Session,
    campaign_id: int,
    filename: str,
    sha256: str,
    actor: str,
    prepared: Prepared,
) -> RegistryImport:
    """One transaction: the import row and every entry, or nothing."""
    phones = {p.e164 for c in prepared.candidates for p in c.phones}
    keys = [c.dedupe_key for c in prepared.candidates]
    result = classify(
        prepared,
        _on_do_not_call(session, phones),
        _existing_keys(session, campaign_id, keys),
    )
    table = prepared.table
    record = RegistryImport(
        campaign_id=campaign_id,
        filename=_cut(filename, 255),
        sha256=sha256,
        file_format=table.file_format,
        encoding=table.encoding,
        delimiter=table.delimiter,
        created_by=_cut(actor, 160),
        rows_total=prepared.rows_total,
        rows_imported=result.rows_imported,
        rows_rejected=prepared.rows_total - result.rows_imported,
        columns=prepared.columns,
        mapping=prepared.mapping,
        report=[issue.as_dict() for issue in result.issues],
        header_row=prepared.header_row,
        layout_key=layout_key(prepared.columns),
    )
    try:
        session.add(record)
        session.flush()
        for start in range(0, len(result.entries), FLUSH_EVERY):
            # Core bulk INSERT (executemany): no ORM objects for tens of thousands of rows.
            session.execute(
                insert(RegistryEntry),
                [
                    _entry(campaign_id, record.id, c)
                    for c in result.entries[start : start + FLUSH_EVERY]
                ],
            )
        others = _other_rows(record.id, prepared, result)
        for start in range(0, len(others), FLUSH_EVERY):
            session.execute(insert(RegistryRow), others[start : start + FLUSH_EVERY])
        session.commit()
    except Exception:
        session.rollback()
        raise
    return record


def _other_rows(import_id: int, prepared: Prepared, result: Classified) -> list[dict[str, Any]]:
    """The filled rows that are no entry (title rows, duplicates), cells in their columns:
    with the entries they make the whole file (blank rows are the numbers in between)."""
    rows = [
        {
            "import_id": import_id,
            "row_number": n,
            "code": "title",
            "cells": cells,
            "of_import": None,
            "of_row": None,
        }
        for n, cells in prepared.title_rows
    ]
    for issue in result.issues:
        if issue.code in ("duplicate_in_file", "duplicate"):
            rows.append(
                {
                    "import_id": import_id,
                    "row_number": issue.row,
                    "code": issue.code,
                    "cells": row_cells(issue.values, prepared.keys),
                    "of_import": issue.of_import,
                    "of_row": issue.of_row,
                }
            )
    return rows


def _entry(campaign_id: int, import_id: int, candidate: Candidate) -> dict[str, Any]:
    return {
        "campaign_id": campaign_id,
        "import_id": import_id,
        "row_number": candidate.row_number,
        "dedupe_key": candidate.dedupe_key,
        "applicant_name": candidate.name,
        "phones": [p.e164 for p in candidate.phones],
        "phone_timezones": [p.timezone for p in candidate.phones],
        "case_number": candidate.case_number,
        "service": candidate.service,
        "office": candidate.office,
        "ready_date": candidate.ready_date,
        "note": candidate.note,
        "raw": candidate.raw,
        "status": candidate.status,
        "attempts": 0,
        "last_result": "",
        "confirmation_digit": "",
        "operator_comment": "",
        "lease_owner": "",
        "updated_at": utcnow(),
    }
