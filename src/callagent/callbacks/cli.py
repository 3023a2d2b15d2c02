"""``callagent callbacks kpi``: the time from request to call-back, for reports and cron
(the same figures as ``GET /api/v1/callbacks/kpi``; no applicant's data)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from callagent.callbacks.service import kpi
from callagent.cli_support import sessions_or_exit, settings_or_exit
from callagent.reports.periods import picked_days

app = typer.Typer(help="Website call-back requests.", no_args_is_help=True)


@app.command("kpi")
def kpi_command(
    first: Annotated[
        datetime | None,
        typer.Option("--from", formats=["%Y-%m-%d"], help="first day (local; default today)"),
    ] = None,
    last: Annotated[
        datetime | None,
        typer.Option("--to", formats=["%Y-%m-%d"], help="last day (local; default --from)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
) -> None:
    """Requests of those days (in CALLAGENT_TIMEZONE): how many, reached, failed, overdue,
    still open, and the mean, median and 90th percentile seconds from the request to the
    applicant put through."""
    settings = settings_or_exit()
    sessions = sessions_or_exit(settings)
    zone = ZoneInfo(settings.timezone)
    day_one, day_last, since, until = picked_days(
        first.date() if first else None, last.date() if last else None, zone, longest=3660
    )
    with sessions() as session:
        figures = kpi(session, start=since, end=until).as_dict()
    figures = {"first_day": day_one.isoformat(), "last_day": day_last.isoformat(), **figures}
    if as_json:
        typer.echo(json.dumps(figures, ensure_ascii=False))
        return
    for key, value in figures.items():
        typer.echo(f"{key:>15}: {'—' if value is None else value}")
