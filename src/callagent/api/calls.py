"""``/api/v1/calls``: call records for integrators and pages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy.orm import Session

from callagent.api.schemas import CallDetail, CallPage, CallSummary, DeviceOut, Problem
from callagent.db.queries import CallFilter, get_call, list_calls, list_devices

router = APIRouter(prefix="/api/v1", tags=["calls"])


def _session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


Db = Annotated[Session, Depends(_session)]


@router.get("/calls", response_model=CallPage, summary="List call records, newest first")
def calls_list(
    db: Db,
    since: Annotated[datetime | None, Query(description="started at or after (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="started before (ISO 8601)")] = None,
    operator: Annotated[
        str | None, Query(description="operator endpoint, e.g. PJSIP/op1001")
    ] = None,
    phone: Annotated[str | None, Query(description="applicant, caller or dialled number")] = None,
    direction: Literal["inbound", "outbound", "internal"] | None = None,
    disposition: Literal[
        "answered",
        "abandoned",
        "no_answer",
        "busy",
        "rejected",
        "congestion",
        "failed",
        "in_progress",
    ]
    | None = None,
    final: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> CallPage:
    for value in (since, until):
        if value is not None and value.tzinfo is None:
            raise HTTPException(
                422, "since/until need a time zone, e.g. 2026-11-22T10:00:00Z or +03:00"
            )
    total, rows = list_calls(
        db,
        CallFilter(since, until, operator, phone, direction, disposition, final),
        limit=limit,
        offset=offset,
    )
    return CallPage(
        total=total,
        limit=limit,
        offset=offset,
        items=[CallSummary.model_validate(row) for row in rows],
    )


@router.get(
    "/calls/{call_id}",
    response_model=CallDetail,
    summary="One call record with legs, operator attempts and timeline",
    responses={404: {"model": Problem}},
)
def calls_get(call_id: int, db: Db) -> CallDetail:
    row = get_call(db, call_id)
    if row is None:
        raise HTTPException(404, f"no call with id {call_id}")
    return CallDetail.model_validate(row)


@router.get("/devices", response_model=list[DeviceOut], summary="Endpoints and their state")
def devices_list(db: Db, node: str | None = None) -> list[DeviceOut]:
    return [DeviceOut.model_validate(row) for row in list_devices(db, node)]
