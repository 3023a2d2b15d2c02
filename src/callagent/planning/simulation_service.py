"""Staffing simulations as jobs: what to simulate (an interval of the staffing report),
starting one, running it in its own process, and the stored results.

The API starts a job (:func:`start_job`: one at a time), :func:`launch` runs
``callagent plan simulate --job ID`` in a process of its own (the simulation keeps a
core busy for a minute or two: never in the service's own loop), which plays the interval
(:func:`run_job`) and stores its figures; the API, the CLI and the page read them back
(:func:`results_by_start`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from callagent.config import Settings
from callagent.planning.erlang import Target
from callagent.planning.service import staffing_report
from callagent.planning.simulation import SimulationInput, auto_speed, theory
from callagent.planning.simulation_models import PlanningSimulation

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(minutes=20)  # a job still "running" after this died with its process
DEFAULT_SEED = 14


class SimulationBusy(Exception):
    """Another simulation is running (one at a time: it takes a core)."""


def interval_input(
    session: Session,
    settings: Settings,
    *,
    start: datetime,
    minutes: int | None = None,
    agents: int | None = None,
    endpoints: Sequence[str] | None = None,
    target: Target | None = None,
    seed: int = DEFAULT_SEED,
    speed: float | None = None,
) -> SimulationInput:
    """The interval starting at ``start`` (aware) as the staffing report plans it: its
    forecast calls and AHT, the callers' patience (measured, or the setting), the agents
    Erlang C recommends (or ``agents``). Raises ValueError when it has no calls."""
    zone = start.tzinfo
    local = start.astimezone(zone)
    report = staffing_report(
        session,
        settings,
        start=local.date(),
        days=1,
        interval_minutes=minutes,
        endpoints=endpoints,
        target=target,
    )
    length = report.report.forecast.interval_minutes
    for one, (erlang_c, _) in zip(report.report.forecast.intervals, report.rows, strict=True):
        if one.start == local:
            if one.offered <= 0:
                raise ValueError("no calls are forecast in this interval")
            return SimulationInput(
                start=start,
                minutes=length,
                calls=one.offered,
                aht=one.aht,
                patience=report.patience,
                agents=agents if agents is not None else max(1, erlang_c.agents),
                threshold=report.target.threshold,
                seed=seed,
                speed=speed or auto_speed(one.offered, length),
            )
    raise ValueError(f"no interval of {length} minutes starts at {local.isoformat()}")


def start_job(
    session: Session, one: SimulationInput, *, team: str | None, created_by: str
) -> PlanningSimulation:
    """Store a running job for ``one`` (raises SimulationBusy while another runs, and
    ValueError for an interval the simulator cannot play)."""
    one.check()
    now = datetime.now(UTC)
    running = session.scalars(
        select(PlanningSimulation).where(PlanningSimulation.status == "running")
    ).all()
    for job in running:
        if now - job.created_at > STALE_AFTER:
            job.status, job.error, job.finished_at = "failed", "stopped", now
        else:
            raise SimulationBusy(f"simulation {job.id} is running")
    job = PlanningSimulation(
        interval_start=one.start,
        interval_minutes=one.minutes,
        team=team,
        agents=one.agents,
        calls=one.calls,
        aht_seconds=one.aht,
        patience_seconds=None if math.isinf(one.patience) else one.patience,
        threshold_seconds=one.threshold,
        seed=one.seed,
        speed=one.speed,
        status="running",
        created_by=created_by,
        created_at=now,
    )
    session.add(job)
    session.flush()
    return job


def job_input(job: PlanningSimulation) -> SimulationInput:
    """What a stored job plays."""
    return SimulationInput(
        start=job.interval_start,
        minutes=job.interval_minutes,
        calls=job.calls,
        aht=job.aht_seconds,
        patience=math.inf if job.patience_seconds is None else job.patience_seconds,
        agents=job.agents,
        threshold=job.threshold_seconds,
        seed=job.seed,
        speed=job.speed,
    )


def outcome(one: SimulationInput, simulated: dict[str, Any]) -> dict[str, Any]:
    """A job's result: the simulated figures beside Erlang C's and A's."""
    return {"simulated": simulated, **theory(one)}


def run_job(sessions: sessionmaker[Session], job_id: int) -> PlanningSimulation:
    """Play a stored job and store its figures (or why it failed)."""
    # the runner starts a whole service of its own (api.app): loaded by the job's process
    # only, so the API that imports this module does not import itself
    from callagent.planning.simulation_run import simulate

    with sessions() as session:
        job = session.get(PlanningSimulation, job_id)
        if job is None:
            raise ValueError(f"no simulation {job_id}")
        one = job_input(job)
    try:
        measured = asyncio.run(simulate(one))
    except Exception as exc:
        log.exception("simulation %s failed", job_id)
        result: dict[str, Any] | None = None
        error: str | None = type(exc).__name__
        status = "failed"
    else:
        result, error, status = outcome(one, measured.to_json()), None, "done"
    with sessions.begin() as session:
        job = session.get(PlanningSimulation, job_id)
        if job is None:  # deleted while it ran: nothing to store
            raise ValueError(f"no simulation {job_id}")
        job.status, job.result, job.error = status, result, error
        job.finished_at = datetime.now(UTC)
        session.flush()
        session.expunge(job)
        return job


def launch(job_id: int, database_url: str) -> None:
    """Run the job in a process of its own (``callagent plan simulate --job``); the
    database's URL goes by the environment, never on a command line others can read."""
    env = {**os.environ, "CALLAGENT_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "callagent", "plan", "simulate", "--job", str(job_id)]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
    )
    # reaped by a thread of its own: no zombie, and the API's request is not held
    threading.Thread(target=process.wait, name=f"simulation-{job_id}", daemon=True).start()


def job_json(job: PlanningSimulation, zone: Any) -> dict[str, Any]:
    """The API's JSON of a job."""
    return {
        "id": job.id,
        "status": job.status,
        "start": job.interval_start.astimezone(zone).isoformat(timespec="minutes"),
        "interval_minutes": job.interval_minutes,
        "agents": job.agents,
        "calls": round(job.calls, 3),
        "aht_seconds": round(job.aht_seconds, 1),
        "patience_seconds": job.patience_seconds,
        "threshold_seconds": job.threshold_seconds,
        "seed": job.seed,
        "speed": job.speed,
        "result": job.result,
        "error": job.error,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def jobs_between(
    session: Session, *, since: datetime, until: datetime, team: str | None
) -> list[PlanningSimulation]:
    """The jobs of intervals starting in ``[since, until)`` for ``team`` (None: the
    centre), newest first."""
    query = select(PlanningSimulation).where(
        PlanningSimulation.interval_start >= since,
        PlanningSimulation.interval_start < until,
    )
    query = query.where(
        PlanningSimulation.team.is_(None) if team is None else PlanningSimulation.team == team
    )
    return list(session.scalars(query.order_by(PlanningSimulation.id.desc())).all())


def results_by_start(
    session: Session, *, since: datetime, until: datetime, team: str | None, minutes: int
) -> dict[datetime, PlanningSimulation]:
    """Each interval's latest simulation of this length (done, running or failed), by
    its start in UTC."""
    out: dict[datetime, PlanningSimulation] = {}
    for job in jobs_between(session, since=since, until=until, team=team):
        if job.interval_minutes == minutes:
            out.setdefault(job.interval_start.astimezone(UTC), job)
    return out


def cell_json(job: PlanningSimulation) -> dict[str, Any]:
    """A simulation as the staffing table shows it beside Erlang C and A."""
    simulated = (job.result or {}).get("simulated") or {}
    return {
        "id": job.id,
        "status": job.status,
        "agents": job.agents,
        "service_level": simulated.get("service_level"),
        "asa_seconds": simulated.get("asa_seconds"),
        "abandon_rate": simulated.get("abandon_rate"),
        "offered": simulated.get("offered"),
    }


def attach_simulated(session: Session, data: dict[str, Any], *, team: str | None) -> None:
    """Put each interval's latest simulation (``simulated``, None without one) into the
    staffing report's JSON."""
    intervals = data.get("intervals") or []
    if not intervals:
        return
    minutes = int(data["interval_minutes"])
    starts = [datetime.fromisoformat(one["start"]) for one in intervals]
    found = results_by_start(
        session,
        since=min(starts),
        until=max(starts) + timedelta(minutes=minutes),
        team=team,
        minutes=minutes,
    )
    for one, start in zip(intervals, starts, strict=True):
        job = found.get(start.astimezone(UTC))
        one["simulated"] = cell_json(job) if job is not None else None
