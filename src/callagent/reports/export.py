"""A KPI report as a spreadsheet: one row per group and the total, headers in the
reader's language (the pages' words), ratios as fractions, times in seconds."""

from __future__ import annotations

from callagent.reports.kpi import Kpi
from callagent.spreadsheets import Cell, Sheet

# (where the figure is: the Kpi's attribute, or time./activity. for the operators' time
# and the wrap-ups; the header's word)
COLUMNS = (
    ("offered", "rep_offered"),
    ("answered", "rep_answered"),
    ("abandoned", "rep_abandoned"),
    ("service_level", "rep_sl"),
    ("asa_seconds", "rep_asa"),
    ("aht_seconds", "rep_aht"),
    ("abandon_rate", "rep_abandon_rate"),
    ("longest_wait_seconds", "rep_longest"),
    ("service_level_2", "rep_sl2"),
    ("acw_seconds", "rep_acw"),
    ("transferred", "rep_transferred"),
    ("repeat_24h", "rep_repeat_24h"),
    ("repeat_7d", "rep_repeat_7d"),
    ("time.logged_in_seconds", "rep_logged_in_s"),
    ("time.paused_seconds", "rep_paused_s"),
    ("time.busy_seconds", "rep_busy_s"),
    ("time.occupancy", "rep_occupancy"),
    ("activity.wrapups_missed", "rep_wrapups_missed"),
    ("activity.wrapups_late", "rep_wrapups_late"),
)


def figure(kpi: Kpi, where: str) -> float:
    """One figure of ``kpi`` by its place in :data:`COLUMNS`."""
    value: object = kpi
    for name in where.split("."):
        value = getattr(value, name)
    assert isinstance(value, int | float)
    return value


def report_sheet(kpi: Kpi, *, by: str | None, words: dict[str, str], lang: str) -> Sheet:
    """The report's table: the group column (its key), the figures, the total last."""
    header: list[Cell] = [words[f"rep_by_{by}"] if by else ""]
    header += [words[word] for _, word in COLUMNS]
    rows: list[list[Cell]] = [header]
    for group in [*kpi.groups, kpi]:
        key = words["rep_total"] if group is kpi else (group.key or "")
        rows.append([key, *(_value(figure(group, where)) for where, _ in COLUMNS)])
    return Sheet(rows, 0, lang=lang, title=words["rep_title"])


def _value(value: float) -> Cell:
    return round(value, 4) if isinstance(value, float) else value
