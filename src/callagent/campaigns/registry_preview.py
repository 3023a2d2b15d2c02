"""A registry file previewed before it is imported: its header row, each column's meaning
and the first rows, so that a supervisor can check and change the mapping on the page.

:func:`preview` is pure (a :class:`Table` in, a :class:`Preview` out); :func:`remembered`
reads the database for the mapping an earlier registry of the same layout was imported
with: the newest import with the same header row in this campaign, else in any campaign
(the operations department sends every month's registry in the same layout, usually to a
new campaign).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from callagent.campaigns.registry_import import (
    FIELDS,
    IGNORE,
    MappingError,
    find_header,
    layout_key,
    map_columns,
)
from callagent.campaigns.tables import Table, column_keys
from callagent.db.campaign_models import RegistryImport

CHOICES = (*FIELDS, IGNORE)  # what a column may mean, in the order a drop-down lists them
SAMPLE_ROWS = 5


@dataclass
class Column:
    """One column of the header row: its header, its key in a mapping, its meaning."""

    index: int
    header: str
    key: str
    field: str  # one of CHOICES: the remembered meaning if any, else the detected one
    detected: str  # what the header names by itself (ignore: nothing)
    in_header: bool = True  # False: cells right of the header, which no mapping can name


@dataclass
class Remembered:
    """The import whose mapping the preview took."""

    import_id: int
    campaign_id: int
    filename: str


@dataclass
class Preview:
    """What the page shows before an import."""

    header_row: int  # 0: no header found (no row names a phone column)
    layout_key: str
    columns: list[Column]
    rows: list[tuple[int, list[str]]]  # (row number, cells) of the first data rows
    rows_total: int  # rows below the header (blank ones between them included)
    problem: str = ""  # why nothing was detected, for the supervisor to choose by hand
    remembered: Remembered | None = None
    notes: list[str] = field(default_factory=list)

    def mapping(self) -> dict[str, list[str]]:
        """The mapping the preview shows, as the upload's ``mapping`` takes it."""
        result: dict[str, list[str]] = {}
        for column in self.columns:
            if column.in_header:
                result.setdefault(column.field, []).append(column.key)
        return result


def preview(table: Table, sample: int = SAMPLE_ROWS) -> Preview:
    """The header row (as the import finds it), each column's detected meaning and the
    first ``sample`` filled rows below it."""
    problem = ""
    try:
        header_index = find_header(table, {})
    except MappingError as exc:
        # The supervisor names the phone column by hand: show the first filled row as the
        # header (a registry's title rows are rarely wider than its header).
        problem = str(exc)
        header_index = next((i for i, (_, cells) in enumerate(table.rows) if any(cells)), -1)
    if header_index < 0:
        return Preview(0, "", [], [], 0, problem or "the file has no rows")
    header_row, header = table.rows[header_index]
    below = table.rows[header_index + 1 :]
    while below and not any(below[-1][1]):
        below.pop()
    rows = [(number, cells) for number, cells in below if any(cells)][:sample]
    width = max([len(header), *(len(cells) for _, cells in rows)])
    columns_text = header + [""] * (width - len(header))
    keys = column_keys(columns_text)
    detected = {
        index: name for name, indexes in map_columns(columns_text, {}).items() for index in indexes
    }
    columns = [
        Column(i, text, key, detected.get(i, IGNORE), detected.get(i, IGNORE), i < len(header))
        for i, (text, key) in enumerate(zip(columns_text, keys, strict=True))
    ]
    return Preview(
        header_row=header_row,
        layout_key=layout_key(header),
        columns=columns,
        rows=[(n, cells + [""] * (width - len(cells))) for n, cells in rows],
        rows_total=len(below),
        problem=problem,
        notes=list(table.notes),
    )


def remembered(session: Session, *, campaign_id: int, key: str) -> RegistryImport | None:
    """The newest import with this header row: this campaign's first, then any other's."""
    if not key:
        return None
    ours = case((RegistryImport.campaign_id == campaign_id, 0), else_=1)
    return session.scalars(
        select(RegistryImport)
        .where(RegistryImport.layout_key == key)
        .order_by(ours, RegistryImport.id.desc())
        .limit(1)
    ).first()


def apply_remembered(shown: Preview, record: RegistryImport) -> Preview:
    """The preview with the earlier import's mapping: its columns keep their meaning and
    the columns it left out are ignored."""
    meaning: dict[str, str] = {}
    for name, keys in (record.mapping or {}).items():
        if name in CHOICES:
            for key in keys if isinstance(keys, list) else [keys]:
                meaning[str(key)] = name
    for column in shown.columns:
        column.field = meaning.get(column.key, IGNORE)
    shown.remembered = Remembered(record.id, record.campaign_id, record.filename)
    return shown


def preview_file(session: Session, *, campaign_id: int, table: Table) -> Preview:
    """The preview of a registry for a campaign, with a remembered mapping if one fits."""
    shown = preview(table)
    record = remembered(session, campaign_id=campaign_id, key=shown.layout_key)
    return apply_remembered(shown, record) if record is not None else shown


def as_json(shown: Preview) -> dict[str, Any]:
    """The API's answer (see ``RegistryPreviewOut``)."""
    return {
        "header_row": shown.header_row,
        "columns": [column.__dict__ for column in shown.columns],
        "rows": [{"row": n, "cells": cells} for n, cells in shown.rows],
        "rows_total": shown.rows_total,
        "choices": list(CHOICES),
        "mapping": shown.mapping(),
        "problem": shown.problem,
        "remembered": shown.remembered.__dict__ if shown.remembered else None,
        "notes": shown.notes,
    }
