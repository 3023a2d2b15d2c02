"""``callagent plan forecast|staffing|schedule``: the forecast, the staff per interval and
the week's schedule (``schedule_cli``), for
people (a table) and for cron (``--json``, the API's JSON)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from callagent.cli_support import sessions_or_exit, settings_or_exit
from callagent.config import Settings
from callagent.planning.demo import store_demo_history
from callagent.planning.forecast import Adjustment
from callagent.planning.options import parse_adjustment
from callagent.planning.schedule_cli import app as schedule_app
from callagent.planning.service import MAX_DAYS, forecast_report, staffing_report, target_of
from callagent.planning.simulation_cli import simulate_command
from callagent.planning.simulation_service import attach_simulated

app = typer.Typer(
    help="Workforce planning: the calls' forecast and the staff each interval needs.",
    no_args_is_help=True,
)
app.add_typer(schedule_app, name="schedule")
app.command("simulate")(simulate_command)

Start = Annotated[
    str | None, typer.Option(help="first day, YYYY-MM-DD on the centre's clock (default today)")
]
Days = Annotated[int, typer.Option(min=1, max=MAX_DAYS, help="days to forecast")]
Interval = Annotated[
    int | None,
    typer.Option(help="interval minutes: 15, 30, 60 (default CALLAGENT_PLANNING_INTERVAL_MINUTES)"),
]
Adjust = Annotated[
    list[str] | None,
    typer.Option(
        help="a manual adjustment START/END[,FACTOR[,ADD]] (repeatable), e.g. "
        "2026-12-07T10:00/2026-12-07T12:00,1.2,15"
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="print the API's JSON")]


def _inputs(
    settings: Settings, start: str | None, adjust: list[str] | None
) -> tuple[date, list[Adjustment]]:
    zone = ZoneInfo(settings.timezone)
    try:
        first = date.fromisoformat(start) if start else datetime.now(zone).date()
    except ValueError:
        raise typer.BadParameter(f"--start {start!r}: write a day such as 2026-12-07") from None
    try:
        return first, [parse_adjustment(text, zone) for text in adjust or []]
    except ValueError as exc:
        raise typer.BadParameter(f"--adjust {exc}") from None


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def _short(value: float | None) -> str:
    """A share as a whole percent in 5 characters ("-": none)."""
    return f"{'-' if value is None else f'{100 * value:.0f} %':>5}"


def _accuracy_line(data: dict[str, Any]) -> str:
    accuracy = data["accuracy"]
    if accuracy is None:
        return "accuracy: no backtest (CALLAGENT_PLANNING_BACKTEST_WEEKS=0)"
    if not accuracy["weeks"]:
        return "accuracy: too little history to hold a week out"
    return (
        f"accuracy on the last {accuracy['weeks']} week(s): wMAPE per day "
        f"{_percent(accuracy['wmape_day'])}, per interval {_percent(accuracy['wmape_interval'])}"
    )


@app.command("forecast")
def forecast_command(
    start: Start = None,
    days: Days = 7,
    interval: Interval = None,
    adjust: Adjust = None,
    as_json: AsJson = False,
) -> None:
    """Offered calls and AHT per interval (method and accuracy: README, Workforce planning)."""
    settings = settings_or_exit()
    first, adjustments = _inputs(settings, start, adjust)
    sessions = sessions_or_exit(settings)
    with sessions() as session:
        try:
            data = forecast_report(
                session,
                settings,
                start=first,
                days=days,
                interval_minutes=interval,
                adjustments=adjustments,
            ).to_json()
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        attach_simulated(session, data, team=None)  # `callagent plan simulate`'s results
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=1))
        return
    typer.echo(_accuracy_line(data))
    for day in data["totals"]:
        typer.echo(f"{day['day']}  {day['offered']:9.1f} calls")
    typer.echo("start                  offered  AHT, s")
    for one in data["intervals"]:
        if one["offered"] > 0:
            typer.echo(f"{one['start']:<22} {one['offered']:8.1f}  {one['aht_seconds']:6.0f}")


@app.command("staffing")
def staffing_command(
    start: Start = None,
    days: Days = 7,
    interval: Interval = None,
    adjust: Adjust = None,
    service_level: Annotated[
        float | None, typer.Option(min=0, max=0.999, help="target share in time (0: none)")
    ] = None,
    threshold: Annotated[
        float | None, typer.Option(min=0, max=600, help="in time: within seconds")
    ] = None,
    asa: Annotated[float | None, typer.Option(min=0, help="mean wait target, s (0: none)")] = None,
    max_occupancy: Annotated[float | None, typer.Option(min=0.05, max=1.0)] = None,
    patience: Annotated[
        float | None, typer.Option(min=1, help="callers' mean patience, s (default: measured)")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Agents and scheduled staff per interval by Erlang C and A (README, Workforce planning)."""
    settings = settings_or_exit()
    first, adjustments = _inputs(settings, start, adjust)
    sessions = sessions_or_exit(settings)
    with sessions() as session:
        try:
            target = target_of(
                settings,
                service_level=service_level,
                threshold=threshold,
                asa=asa,
                max_occupancy=max_occupancy,
            )
            data = staffing_report(
                session,
                settings,
                start=first,
                days=days,
                interval_minutes=interval,
                target=target,
                patience=patience,
                adjustments=adjustments,
            ).to_json()
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        attach_simulated(session, data, team=None)  # `callagent plan simulate`'s results
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=1))
        return
    typer.echo(_accuracy_line(data))
    wait = data["patience_seconds"]
    typer.echo(
        f"patience: {'none abandoned' if wait is None else f'{wait:.0f} s'}; "
        f"shrinkage {_percent(data['shrinkage']['total'])}"
    )
    typer.echo(
        "start                  offered  AHT, s  agents C  staff C  agents A  staff A"
        "   SL C   SL A  SL sim"
    )
    for one in data["intervals"]:
        if one["offered"] > 0:
            c, a, sim = one["erlang_c"], one["erlang_a"], one.get("simulated") or {}
            typer.echo(
                f"{one['start']:<22} {one['offered']:8.1f}  {one['aht_seconds']:6.0f}  "
                f"{c['agents']:8d}  {c['staff']:7d}  {a['agents']:8d}  {a['staff']:7d}"
                f"  {_short(c['service_level'])}  {_short(a['service_level'])}"
                f"  {_short(sim.get('service_level'))}"
            )


@app.command("demo-history")
def demo_history_command(
    weeks: Annotated[int, typer.Option(min=1, max=52, help="weeks up to yesterday")] = 4,
    calls_per_day: Annotated[
        float, typer.Option(min=1, max=100_000, help="calls on a Monday (weekends fewer)")
    ] = 300,
    phones: Annotated[
        str, typer.Option(help="the phones that answer, comma-separated")
    ] = "PJSIP/op1001,PJSIP/op1002,PJSIP/op1003",
    seed: Annotated[int, typer.Option(help="the random generator's seed")] = 14,
) -> None:
    """Store a demo history of inbound calls (node 'demo') for a demo or a trial: never on
    a production database, every report counts them. Replaces earlier demo calls of
    those days."""
    settings = settings_or_exit()
    zone = ZoneInfo(settings.timezone)
    today = datetime.now(zone).date()
    first, last = today - timedelta(days=7 * weeks), today - timedelta(days=1)
    answering = [p.strip() for p in phones.split(",") if p.strip()]
    if not answering:
        raise typer.BadParameter("--phones: name at least one phone, e.g. PJSIP/op1001")
    sessions = sessions_or_exit(settings)
    with sessions.begin() as session:
        stored = store_demo_history(
            session,
            first=first,
            last=last,
            zone=zone,
            calls_per_day=calls_per_day,
            phones=answering,
            seed=seed,
        )
    typer.echo(f"stored {stored} demo calls from {first} to {last} (node 'demo')")
