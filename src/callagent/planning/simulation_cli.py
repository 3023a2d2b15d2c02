"""``callagent plan simulate``: an interval's recommended staffing checked by simulation
(and ``--job ID``: the process the API starts to run a stored job)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from callagent.cli_support import sessions_or_exit, settings_or_exit
from callagent.planning.simulation_models import PlanningSimulation
from callagent.planning.simulation_service import (
    DEFAULT_SEED,
    SimulationBusy,
    interval_input,
    job_json,
    run_job,
    start_job,
)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def print_result(data: dict[str, Any]) -> None:
    """The simulated figures beside Erlang C's and A's, as a table."""
    patience = data["patience_seconds"]
    typer.echo(
        f"{data['start']}, {data['interval_minutes']} min: {data['calls']:.1f} calls, "
        f"AHT {data['aht_seconds']:.0f} s, patience "
        f"{'none' if patience is None else f'{patience:.0f} s'}"
        f", {data['agents']} agents, speed {data['speed']:g}"
    )
    result = data["result"]
    if data["status"] != "done" or result is None:
        typer.echo(f"status: {data['status']} {data['error'] or ''}".rstrip())
        return
    sim = result["simulated"]
    typer.echo(f"{'':12} {'SL':>8} {'ASA':>9} {'abandoned':>10}")
    for name, row in (
        ("Erlang C", result["erlang_c"]),
        ("Erlang A", result["erlang_a"]),
        ("simulated", sim),
    ):
        typer.echo(
            f"{name:12} {_percent(row['service_level']):>8} {_seconds(row['asa_seconds']):>9} "
            f"{_percent(row['abandon_rate']):>10}"
        )
    typer.echo(
        f"simulated: {sim['offered']} calls offered, {sim['answered']} answered, "
        f"{sim['abandoned']} abandoned; played in {sim['real_seconds']:.0f} s"
    )


def simulate_command(
    at: Annotated[
        str | None,
        typer.Option(help="the interval's start, e.g. 2026-12-07T10:00 (the centre's clock)"),
    ] = None,
    interval: Annotated[int | None, typer.Option(help="interval minutes: 15, 30, 60")] = None,
    agents: Annotated[
        int | None, typer.Option(min=1, help="agents on the phones (default: Erlang C's)")
    ] = None,
    seed: Annotated[int, typer.Option(help="the callers' random seed")] = DEFAULT_SEED,
    speed: Annotated[
        float | None,
        typer.Option(min=1, max=200, help="clock speed (default: what the machine keeps up)"),
    ] = None,
    job: Annotated[
        int | None, typer.Option(help="a stored job: run it if it is waiting, else show it")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the API's JSON")] = False,
) -> None:
    """Play an interval's recommended staffing through the PBX simulator, with callers of
    the measured patience and the forecast AHT; the simulated SL, ASA and abandons beside
    Erlang C's and A's (README, Workforce planning). Stored for the page and the API."""
    settings = settings_or_exit()
    zone = ZoneInfo(settings.timezone)
    sessions = sessions_or_exit(settings)
    if job is None:
        if at is None:
            raise typer.BadParameter("give --at (an interval's start) or --job")
        try:
            moment = datetime.fromisoformat(at)
        except ValueError:
            message = f"--at {at!r}: write a time such as 2026-12-07T10:00"
            raise typer.BadParameter(message) from None
        start = moment.replace(tzinfo=zone) if moment.tzinfo is None else moment
        with sessions.begin() as session:
            try:
                one = interval_input(
                    session,
                    settings,
                    start=start,
                    minutes=interval,
                    agents=agents,
                    seed=seed,
                    speed=speed,
                )
                job = start_job(session, one, team=None, created_by="cli").id
            except SimulationBusy as exc:
                typer.echo(f"callagent: {exc}: try again when it ends", err=True)
                raise typer.Exit(1) from None
            except ValueError as exc:
                raise typer.BadParameter(str(exc)) from None
    with sessions() as session:
        stored = session.get(PlanningSimulation, job)
        if stored is None:
            raise typer.BadParameter(f"--job {job}: no such simulation")
        session.expunge(stored)
    # a job that ended is shown; a running one is played here (the API's own process)
    done = run_job(sessions, job) if stored.status == "running" else stored
    data = job_json(done, zone)
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=1))
    else:
        print_result(data)
    if done.status != "done":
        raise typer.Exit(1)
