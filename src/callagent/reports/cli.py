"""``callagent report kpi``: the figures of a period, for people and for cron."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer

from callagent.cli_support import sessions_or_exit, settings_or_exit
from callagent.reports.export import figure
from callagent.reports.kpi import Kpi
from callagent.reports.service import GROUPINGS, kpi_report, options_of

app = typer.Typer(help="Reports: KPIs of a period, as a table or JSON.", no_args_is_help=True)

_ROWS = (
    ("offered", "offered"),
    ("answered", "answered"),
    ("abandoned", "abandoned"),
    ("short_abandoned", "short abandoned"),
    ("service_level", "service level"),
    ("asa_seconds", "ASA, s"),
    ("aht_seconds", "AHT, s"),
    ("acw_seconds", "ACW, s"),
    ("abandon_rate", "abandon rate"),
    ("longest_wait_seconds", "longest wait, s"),
    ("repeat_24h", "repeat callers, 24 h"),
    ("repeat_7d", "repeat callers, 7 days"),
    ("time.logged_in_seconds", "logged in, s"),
    ("time.paused_seconds", "paused, s"),
    ("time.occupancy", "occupancy"),
    ("activity.wrapups_missed", "wrap-ups missed"),
    ("activity.wrapups_late", "wrap-ups late"),
)


def _moment(text: str, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{what}: {text!r} is not an ISO time (2026-12-01T00:00+03:00)"
        ) from None
    if moment.tzinfo is None:
        raise typer.BadParameter(f"{what}: {text!r} needs a time zone (+03:00 or Z)")
    return moment


def _table(kpi: Kpi) -> str:
    def cell(value: float) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    rows = [kpi, *kpi.groups]
    head = ["", *(row.key or "total" for row in rows)]
    lines = [head]
    for name, label in _ROWS:
        lines.append([label, *(cell(figure(row, name)) for row in rows)])
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    padded = ("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines)
    return "\n".join(padded)


@app.command("kpi")
def kpi_command(
    since: Annotated[str, typer.Option(help="from (ISO time with zone), inclusive")],
    until: Annotated[str, typer.Option(help="to (ISO time with zone), exclusive")],
    by: Annotated[str | None, typer.Option(help=f"group by: {', '.join(GROUPINGS)}")] = None,
    interval: Annotated[
        int, typer.Option(help="interval minutes with --by interval: 15, 30, 60")
    ] = 30,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON object")] = False,
) -> None:
    """The KPIs of the inbound calls offered in [SINCE, UNTIL) (formulas: README, Reports)."""
    start, end = _moment(since, "--since"), _moment(until, "--until")
    if by is not None and by not in GROUPINGS:
        raise typer.BadParameter(f"--by {by!r}: choose one of {', '.join(GROUPINGS)}")
    settings = settings_or_exit()
    sessions = sessions_or_exit(settings)
    with sessions() as session:
        try:
            kpi = kpi_report(
                session, settings, since=start, until=end, by=by, interval_minutes=interval
            )
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(kpi.to_json(), ensure_ascii=False, indent=1))
    else:
        typer.echo(_table(kpi))


@app.command("aggregate")
def aggregate_command(
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="recount from the calls (all, or --since/--until)")
    ] = False,
    since: Annotated[str | None, typer.Option(help="with --rebuild: from (ISO with zone)")] = None,
    until: Annotated[str | None, typer.Option(help="with --rebuild: to (ISO with zone)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON object")] = False,
    jobs: Annotated[
        int,
        typer.Option(
            min=1, help="processes counting the weeks of a rebuild (or a first run) at once"
        ),
    ] = 1,
) -> None:
    """Bring the reports' interval aggregates up to date (what changed since the last
    run; everything the first time), or recount them from the calls with --rebuild."""
    from callagent.reports.aggregate_store import drain, rebuild_range

    if (since or until) and not rebuild:
        raise typer.BadParameter("--since and --until go with --rebuild")
    if bool(since) != bool(until):
        raise typer.BadParameter("--rebuild takes both --since and --until, or neither")
    settings = settings_or_exit()
    sessions = sessions_or_exit(settings)
    options = options_of(settings)
    if since and until:
        start, end = _moment(since, "--since"), _moment(until, "--until")
        if end <= start:
            raise typer.BadParameter("--until must be after --since")
        run = rebuild_range(sessions, options, since=start, until=end)
    else:
        run = drain(sessions, options, rebuild=rebuild, jobs=jobs)
    found = {
        "hours": run.hours,
        "dirty": run.dirty,
        "seconds": round(run.seconds, 3),
        "covered_from": run.covered_from.isoformat() if run.covered_from else None,
        "horizon": run.horizon.isoformat() if run.horizon else None,
    }
    if as_json:
        typer.echo(json.dumps(found))
    else:
        typer.echo(
            f"{run.hours} hours recounted in {run.seconds:.1f} s "
            f"({run.dirty} changes); covered {found['covered_from']} to {found['horizon']}"
        )
