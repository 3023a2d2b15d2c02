"""The quality report as a spreadsheet (the reports page's *Service quality* part, issue
#13): a sheet per table of that part (operators, teams, the trend, criteria, frequent
errors), written by the one writer every export uses (``callagent.spreadsheets``).

Each sheet's first row is its title and the report's days, the second the column titles
in the reader's language (the pages' words), then the rows, and for operators, teams and
the trend the total last. Scores and shares are percentages (0-100, as the API gives
them, the column title says so). Only staff names and figures: nothing of an applicant.
"""

from __future__ import annotations

from typing import Any

from callagent.spreadsheets import Cell, Sheet


def report_sheets(report: dict[str, Any], *, words: dict[str, str], lang: str) -> list[Sheet]:
    """The sheets of ``GET /api/v1/quality/report``'s answer (``name`` of each operator and
    ``title`` of each criterion filled in, as that route gives them)."""
    days = f"{report['first_day']} – {report['last_day']}"
    total = words["rep_total"]

    def sheet(title: str, header: list[Cell], rows: list[list[Cell]]) -> Sheet:
        return Sheet([[title, days], header, *rows], 1, lang=lang, title=title)

    def figures(group: dict[str, Any]) -> list[Cell]:
        return [group["evaluations"], group["average"], group["critical"]]

    all_critical = sum(row["critical"] for row in report["operators"])
    summary: list[Cell] = [total, report["evaluations"], report["average"], all_critical]
    scored = [words["qa_col_count"], words["rq_x_average"], words["qa_col_critical"]]
    return [
        sheet(
            words["qa_rep_operators"],
            [words["qa_col_operator"], *scored],
            [[row["name"], *figures(row)] for row in report["operators"]] + [summary],
        ),
        sheet(
            words["qa_rep_teams"],
            [words["qa_col_team"], *scored],
            [[row["team"] or words["qa_no_team"], *figures(row)] for row in report["teams"]]
            + [summary],
        ),
        sheet(
            words["qa_rep_trend"],
            [words[f"rq_by_{report['by']}"], *scored[:2]],
            [[row["period"], row["evaluations"], row["average"]] for row in report["trend"]]
            + [summary[:3]],
        ),
        sheet(
            words["qa_rep_criteria"],
            [words["qa_col_criterion"], words["qa_col_answered"], words["rq_x_share"]],
            [[row["title"], row["answered"], row["share"]] for row in report["criteria"]],
        ),
        sheet(
            words["qa_rep_errors"],
            [words["qa_col_criterion"], words["rq_x_critical"], words["qa_col_times"]],
            [
                [row["title"], words["rq_x_yes" if row["critical"] else "rq_x_no"], row["count"]]
                for row in report["errors"]
            ],
        ),
    ]


def csv_sheets(sheets: list[Sheet]) -> list[Sheet]:
    """For CSV (one table after another): an empty line between two sheets."""
    out: list[Sheet] = []
    for index, one in enumerate(sheets):
        if index:
            out.append(Sheet([[]], 0, lang=one.lang, title=""))
        out.append(one)
    return out
