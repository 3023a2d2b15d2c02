"""``/api/v1/planning/simulations``: an interval's recommended staffing checked by the
PBX simulator, as a job (started here, run in its own process, read back when done)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field

from callagent.api.schemas import Problem
from callagent.api.security import Db, Requires
from callagent.auth.scopes import Scope
from callagent.auth.service import Principal, group_endpoints
from callagent.errors import ServiceError
from callagent.planning import simulation as simulation_module
from callagent.planning.forecast import NotEnoughHistory
from callagent.planning.simulation_models import PlanningSimulation
from callagent.planning.simulation_service import (
    DEFAULT_SEED,
    SimulationBusy,
    interval_input,
    job_json,
    jobs_between,
    launch,
    start_job,
)

router = APIRouter(prefix="/api/v1/planning", tags=["planning"])
Reader = Annotated[Principal, Depends(Requires(Scope.REPORTS_READ))]
Writer = Annotated[Principal, Depends(Requires(Scope.SCHEDULES_WRITE))]
SIMULATION_DOC = (simulation_module.__doc__ or "").split("\n\n", 1)[-1]


class SimulateIn(BaseModel):
    """The interval to simulate; the agents default to Erlang C's recommendation."""

    start: datetime = Field(description="the interval's start (ISO; no zone: the centre's)")
    interval: int | None = Field(default=None, description="minutes: 15, 30 or 60")
    agents: int | None = Field(default=None, ge=1, le=simulation_module.MAX_AGENTS)
    seed: int = Field(default=DEFAULT_SEED, ge=0, le=2**31 - 1)
    speed: float | None = Field(default=None, ge=1, le=200, description="default: auto")


def _team(principal: Principal) -> str | None:
    return principal.group if principal.sees_only_group_calls else None


@router.post(
    "/simulations",
    status_code=202,
    summary="Starts the simulation of an interval's recommended staffing (one at a time)",
    description=SIMULATION_DOC,
    responses={403: {"model": Problem}, 409: {"model": Problem}, 422: {"model": Problem}},
)
def simulation_start(
    request: Request, db: Db, principal: Writer, body: SimulateIn
) -> dict[str, Any]:
    settings = request.app.state.settings
    zone = ZoneInfo(settings.timezone)
    start = body.start if body.start.tzinfo else body.start.replace(tzinfo=zone)
    team = _team(principal)
    try:
        one = interval_input(
            db,
            settings,
            start=start,
            minutes=body.interval,
            agents=body.agents,
            endpoints=group_endpoints(db, group=team) if team else None,
            seed=body.seed,
            speed=body.speed,
        )
        job = start_job(db, one, team=team, created_by=principal.actor)
    except SimulationBusy as exc:
        raise ServiceError(409, str(exc), code="simulation_running") from None
    except (NotEnoughHistory, ValueError, OverflowError) as exc:
        raise HTTPException(422, str(exc)) from None
    db.commit()
    launch(job.id, settings.database_url)
    return job_json(job, zone)


@router.get(
    "/simulations",
    summary="The simulations of a day's intervals, newest first",
    responses={403: {"model": Problem}},
)
def simulation_list(
    request: Request,
    db: Db,
    principal: Reader,
    day: Annotated[datetime, Query(description="a day (its midnight on the centre's clock)")],
) -> dict[str, Any]:
    zone = ZoneInfo(request.app.state.settings.timezone)
    since = day.replace(hour=0, minute=0, second=0, microsecond=0)
    since = since if since.tzinfo else since.replace(tzinfo=zone)
    try:
        until = since + timedelta(days=1)
    except OverflowError:  # the last day datetime can hold
        raise HTTPException(422, "day: too far in the future") from None
    jobs = jobs_between(db, since=since, until=until, team=_team(principal))
    return {"simulations": [job_json(job, zone) for job in jobs]}


@router.get(
    "/simulations/{simulation_id}",
    summary="One simulation: its inputs, status and figures beside Erlang C's and A's",
    responses={403: {"model": Problem}, 404: {"model": Problem}},
)
def simulation_read(
    request: Request,
    db: Db,
    principal: Reader,
    simulation_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
) -> dict[str, Any]:
    job = db.get(PlanningSimulation, simulation_id)
    if job is None or job.team != _team(principal):
        raise HTTPException(404, f"no simulation {simulation_id}")
    return job_json(job, ZoneInfo(request.app.state.settings.timezone))
