"""Event payloads, shaped like the HTTP API's JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from callagent.db.call_shape import CallDetail
from callagent.db.models import Call
from callagent.tracker.records import CallRecord

_CALL_TIMES = ("started_at", "queue_entered_at", "first_ring_at", "answered_at", "ended_at")
_LEG_TIMES = ("created_at", "answered_at", "ended_at")
_ATTEMPT_TIMES = ("rang_from", "rang_to")


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


def call_payload(record: CallRecord, call_id: int) -> dict[str, Any]:
    """The final call record as ``GET /api/v1/calls/{id}`` shows it."""
    data = record.to_dict()
    for name in _CALL_TIMES:
        data[name] = _iso(data[name])
    for leg in data["legs"]:
        for name in _LEG_TIMES:
            leg[name] = _iso(leg[name])
    for attempt in data["attempts"]:
        for name in _ATTEMPT_TIMES:
            attempt[name] = _iso(attempt[name])
    for entry in data["timeline"]:
        entry["at"] = _iso(entry["at"])
    return {"id": call_id, **data}


def call_row_payload(row: Call) -> dict[str, Any]:
    """The same payload from a stored row (calls closed by a resync)."""
    data: dict[str, Any] = CallDetail.model_validate(row).model_dump(mode="json")
    return data
