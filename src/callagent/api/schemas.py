"""The JSON shapes of the HTTP API (and of ``callagent replay --json``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError


class LegOut(BaseModel):
    """One channel of a call."""

    model_config = ConfigDict(from_attributes=True)

    uniqueid: str
    channel: str
    endpoint: str
    role: str
    created_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    cause: int | None
    cause_text: str
    hangup_requested: bool
    closed_by_resync: bool


class AttemptOut(BaseModel):
    """One ring of an operator's phone."""

    model_config = ConfigDict(from_attributes=True)

    seq: int
    endpoint: str
    uniqueid: str
    channel: str
    via: str
    rang_from: datetime
    rang_to: datetime | None
    outcome: str | None


class CallSummary(BaseModel):
    """A call record as listed by ``GET /api/v1/calls``."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    node: str
    linkedid: str
    direction: str
    caller_number: str
    caller_name: str
    dialled_number: str
    applicant_number: str
    started_at: datetime
    queue_entered_at: datetime | None
    first_ring_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    wait_seconds: float | None
    ring_seconds: float | None
    talk_seconds: float | None
    hold_seconds: float
    operator_endpoint: str | None
    operator_id: int | None = None  # the user whose phone operator_endpoint is
    operator_login: str | None = None
    disposition: str
    hangup_by: str | None
    hangup_cause: int | None
    hangup_cause_text: str
    queue_name: str
    recording_file: str
    final: bool
    partial: bool
    closed_by_resync: bool
    reconstructed: bool = Field(
        default=False,
        description="built after the fact from the PBX's CEL store: the call happened "
        "while callagent was down or disconnected",
    )
    variables: dict[str, Any]
    transfers: list[Any]
    originate: dict[str, Any]


class CallDetail(CallSummary):
    """One call record with its legs, operator attempts and timeline."""

    legs: list[LegOut]
    attempts: list[AttemptOut]
    timeline: list[dict[str, Any]]


class CallPage(BaseModel):
    """A page of call records."""

    total: int
    limit: int
    offset: int
    items: list[CallSummary]


class DeviceOut(BaseModel):
    """The PBX's last word on an endpoint."""

    model_config = ConfigDict(from_attributes=True)

    node: str
    device: str
    state: str
    contact_status: str
    reachable: bool | None
    registered: bool
    contact_uri: str
    roundtrip_usec: int | None
    updated_at: datetime


class Problem(BaseModel):
    """An error: what was wrong and what to do (a list of field errors for invalid input)."""

    detail: str | list[dict[str, Any]]
    code: str | None = Field(
        default=None, description="a stable code of the refusal, for pages to translate"
    )
    params: dict[str, Any] | None = Field(default=None, description="the code's values")


# Database ids in paths and bodies: bounded, so that a huge number is a 422, not a crash.
Id = Annotated[int, Path(ge=1, le=2_147_483_647, description="id")]
BodyId = Annotated[int, Field(ge=1, le=2_147_483_647)]


def _with_zone(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise PydanticCustomError(
            "timezone_aware",
            "a time needs its time zone: give the UTC offset, e.g. 2026-11-23T09:00:00+03:00 "
            "or 2026-11-23T06:00:00Z",
        )
    try:
        # Stored and compared in UTC: 9999-12-31T23:59:59-14:00 has no UTC year 9999
        # (it would fail as an OverflowError in the query, a 500).
        value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError(
            "time_out_of_range",
            "the time is outside the years 0001-9999 once converted to UTC: give a "
            "time between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z",
        ) from None
    return value


# A moment sent to the API (query or body): without its offset nobody knows whose clock it
# is on, so a time without one is a 422 that says how to write it.
AwareTime = Annotated[datetime, AfterValidator(_with_zone)]
# The time window of a list (calls, wrap-ups): query parameters with their offset.
StartedSince = Annotated[
    AwareTime | None, Query(description="started at or after (ISO 8601, with offset)")
]
StartedUntil = Annotated[
    AwareTime | None, Query(description="started before (ISO 8601, with offset)")
]
