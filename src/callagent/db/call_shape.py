"""The call record as callagent shows it everywhere: the HTTP API, the webhooks'
``call.*`` payloads, ``callagent replay --json`` and the pages. A domain shape (the API
re-exports it), so that the webhooks need not import the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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
