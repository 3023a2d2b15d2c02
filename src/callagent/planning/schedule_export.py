"""The week's schedule as planners print it: one row per operator, one column per day
(``09:00–17:00``, or the day off they asked for), and the week's hours. Pure."""

from __future__ import annotations

from datetime import date
from typing import Any

from callagent.spreadsheets import Cell, Sheet


def schedule_sheet(data: dict[str, Any], words: dict[str, str], lang: str) -> Sheet:
    """``data``: a schedule's JSON (:func:`callagent.planning.schedule_service.view`)."""
    days = [date.fromisoformat(day) for day in data["days"]]
    header: list[Cell] = [
        words["sch_operator"],
        words["sch_name"],
        *[day.strftime("%d.%m") for day in days],
        words["sch_hours"],
    ]
    rows: list[list[Cell]] = [header]
    for operator in data["operators"]:
        cells: list[Cell] = [""] * 7
        for index in operator["days_off"]:
            cells[index] = words["sch_day_off"]
        for shift in operator["shifts"]:
            cells[shift["day"]] = f"{shift['from']}–{shift['to']}"
        rows.append(
            [
                operator["login"],
                operator["name"],
                *cells,
                round(operator["week_minutes"] / 60, 2),
            ]
        )
    return Sheet(rows, 0, lang=lang, title=words["sch_title"])
