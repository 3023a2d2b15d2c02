"""A KPI report as a spreadsheet: one row per group and the total, headers in the
reader's language (the pages' words), ratios as fractions, times in seconds."""

from __future__ import annotations

from callagent.reports.kpi import Kpi
from callagent.spreadsheets import Cell, Sheet

COLUMNS = (
    ("offered", "rep_offered"),
    ("answered", "rep_answered"),
    ("abandoned", "rep_abandoned"),
    ("service_level", "rep_sl"),
    ("asa_seconds", "rep_asa"),
    ("aht_seconds", "rep_aht"),
    ("abandon_rate", "rep_abandon_rate"),
    ("longest_wait_seconds", "rep_longest"),
)


def report_sheet(kpi: Kpi, *, by: str | None, words: dict[str, str], lang: str) -> Sheet:
    """The report's table: the group column (its key), the figures, the total last."""
    header: list[Cell] = [words[f"rep_by_{by}"] if by else ""]
    header += [words[word] for _, word in COLUMNS]
    rows: list[list[Cell]] = [header]
    for group in [*kpi.groups, kpi]:
        key = words["rep_total"] if group is kpi else (group.key or "")
        rows.append([key, *(_value(getattr(group, name)) for name, _ in COLUMNS)])
    return Sheet(rows, 0, lang=lang, title=words["rep_title"])


def _value(value: float) -> Cell:
    return round(value, 4) if isinstance(value, float) else value
