"""``callagent plan schedule build|show|replan|adherence|adherence-period|export``: the
week's schedule for people (a table) and for cron (``--json``, the API's JSON)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from callagent.cli_support import sessions_or_exit, settings_or_exit
from callagent.planning import schedule_service as service
from callagent.planning.adherence_period import adherence_period
from callagent.planning.forecast import NotEnoughHistory
from callagent.planning.schedule_export import schedule_sheet
from callagent.spreadsheets import to_xlsx

app = typer.Typer(
    help="The week's shifts and breaks: build, show, re-plan breaks, adherence, XLSX.",
    no_args_is_help=True,
)
Week = Annotated[str, typer.Option(help="the week's Monday, YYYY-MM-DD")]
AsJson = Annotated[bool, typer.Option("--json", help="print the API's JSON")]


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{option} {text!r}: write a day such as 2026-12-07") from None


def _print(data: dict[str, Any]) -> None:
    figures = data["figures"]
    typer.echo(
        f"week of {data['week_start']} ({data['status']}): {figures['shifts']} shifts, "
        f"under {figures['under_agent_slots']} agent-slots (lower bound "
        f"{figures['lower_bound_under']}), over {figures['over_agent_slots']}"
    )
    for team in data.get("teams", []):
        typer.echo(
            f"team {team['team'] or '-'}: share {100 * team['share']:.0f} % "
            f"({team['share_source']}), {team['operators']} operators, need "
            f"{team['required_agent_slots']}, under {team['under_agent_slots']} (lower bound "
            f"{team['lower_bound_under']}), over {team['over_agent_slots']}"
        )
    for operator in data["operators"]:
        cells = ["-"] * 7
        for shift in operator["shifts"]:
            cells[shift["day"]] = f"{shift['from']}-{shift['to']}"
        typer.echo(f"{operator['login']:<16} " + " ".join(f"{c:<11}" for c in cells))


@app.command("build")
def build_command(
    week: Week,
    seconds: Annotated[float, typer.Option(min=1, max=300, help="solver time budget")] = 40.0,
    as_json: AsJson = False,
) -> None:
    """Build (or rebuild) the week from the staffing of the forecast."""
    settings = settings_or_exit()
    start = _day(week, "--week")
    sessions = sessions_or_exit(settings)
    with sessions.begin() as session:
        try:
            service.build(session, settings, week_start=start, actor="cli", seconds=seconds)
        except (NotEnoughHistory, ValueError) as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(2) from None
    with sessions() as session:
        data = service.view(session, settings, start)
    assert data is not None
    typer.echo(json.dumps(data, ensure_ascii=False)) if as_json else _print(data)


@app.command("show")
def show_command(week: Week, as_json: AsJson = False) -> None:
    """Show the stored week."""
    settings = settings_or_exit()
    start = _day(week, "--week")
    with sessions_or_exit(settings)() as session:
        data = service.view(session, settings, start)
    if data is None:
        typer.echo(f"no schedule built for the week of {start}", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps(data, ensure_ascii=False)) if as_json else _print(data)


@app.command("replan")
def replan_command(
    at: Annotated[
        str, typer.Option(help="from when, ISO (the centre's clock), e.g. 2026-12-07T12:00")
    ],
    factor: Annotated[float, typer.Option(min=0, max=10, help="volume × the forecast")] = 1.0,
    apply: Annotated[bool, typer.Option("--apply", help="store the new breaks")] = False,
    as_json: AsJson = False,
) -> None:
    """Re-plan the day's breaks not begun by AT for a new volume."""
    settings = settings_or_exit()
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        raise typer.BadParameter(f"--at {at!r}: write a time such as 2026-12-07T12:00") from None
    sessions = sessions_or_exit(settings)
    with sessions() as session:
        try:
            data = service.replan(session, settings, at=moment, factor=factor, apply=apply)
        except LookupError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from None
        if apply:
            session.commit()
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False))
        return
    typer.echo(
        f"{len(data['changes'])} shifts' breaks changed; under from {data['from']}: "
        f"{data['under_before']} -> {data['under_after']} agent-slots"
        + ("" if apply else " (not stored: --apply)")
    )


@app.command("adherence")
def adherence_command(
    day: Annotated[str, typer.Option(help="the day, YYYY-MM-DD")], as_json: AsJson = False
) -> None:
    """Each scheduled operator's adherence on DAY."""
    settings = settings_or_exit()
    with sessions_or_exit(settings)() as session:
        data = service.adherence_report(
            session, settings, day=_day(day, "--day"), now=datetime.now(UTC)
        )
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False))
        return
    for row in data["rows"]:
        typer.echo(
            f"{row['operator']:<16} {row['from']}-{row['to']}  late {row['late_seconds'] // 60} min"
            f"  early {row['early_seconds'] // 60} min  adherence {100 * row['adherence']:.1f} %"
            f"  exceptions {len(row['exceptions'])}"
        )


@app.command("adherence-period")
def adherence_period_command(
    first: Annotated[str, typer.Option("--from", help="the first day, YYYY-MM-DD")],
    last: Annotated[str, typer.Option("--to", help="the last day, YYYY-MM-DD")],
    as_json: AsJson = False,
) -> None:
    """Each operator's adherence totals over --from to --to."""
    settings = settings_or_exit()
    with sessions_or_exit(settings)() as session:
        try:
            data = adherence_period(
                session,
                settings,
                first=_day(first, "--from"),
                last=_day(last, "--to"),
                now=datetime.now(UTC),
            )
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False))
        return
    for row in [*data["rows"], {**data["total"], "operator": "total"}]:
        typer.echo(
            f"{row['operator']:<16} shifts {row['shifts']}  absent {row['absent']}"
            f"  late {row['late']} ({row['late_seconds'] // 60} min)"
            f"  early {row['early']} ({row['early_seconds'] // 60} min)"
            f"  off plan {row['off_plan_seconds'] // 60} min"
            f"  adherence {100 * row['adherence']:.1f} %"
        )


@app.command("export")
def export_command(
    week: Week,
    out: Annotated[Path, typer.Option(help="the XLSX file to write")],
    lang: Annotated[str, typer.Option(help="headers' language: ru, uk, en")] = "ru",
) -> None:
    """The week as XLSX: one row per operator, one column per day."""
    from callagent.web.i18n import strings

    settings = settings_or_exit()
    start = _day(week, "--week")
    with sessions_or_exit(settings)() as session:
        data = service.view(session, settings, start)
    if data is None:
        typer.echo(f"no schedule built for the week of {start}", err=True)
        raise typer.Exit(1)
    out.write_bytes(to_xlsx([schedule_sheet(data, strings(lang), lang)]))
    typer.echo(f"wrote {out} ({len(data['operators'])} operators)")
