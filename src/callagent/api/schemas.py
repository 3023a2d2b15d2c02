"""The JSON shapes of the HTTP API (and of ``callagent replay --json``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

# the call record's shape is the domain's (the webhooks send it too); the API serves it
from callagent.db.call_shape import AttemptOut as AttemptOut
from callagent.db.call_shape import CallDetail as CallDetail
from callagent.db.call_shape import CallSummary as CallSummary
from callagent.db.call_shape import LegOut as LegOut


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
