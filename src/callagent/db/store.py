"""Writing call records and device states: one batch, one transaction, idempotent.

A record is written whole each time (the call row upserted, its legs and
attempts replaced), so writing the same record twice, or an older and then a
newer version of it, leaves exactly what the tracker last derived.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, tuple_, update
from sqlalchemy.orm import Session, sessionmaker

from callagent.db.models import Call, CallAttempt, CallLeg, Device
from callagent.db.node_leases import NodeFence
from callagent.db.queries import operators_by_endpoint
from callagent.tracker.records import CallRecord
from callagent.tracker.state import DeviceState
from callagent.webhooks.outbox import enqueue, subscribers
from callagent.webhooks.payloads import call_payload, call_row_payload


def to_datetime(epoch: float | None) -> datetime | None:
    """Epoch seconds (as the tracker keeps them) to an aware UTC datetime."""
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def _call_row(record: CallRecord, now: datetime, state: dict[str, Any] | None) -> dict[str, Any]:
    started = to_datetime(record.started_at)
    return {
        "tracker_state": None if record.final else state,
        "node": record.node,
        "linkedid": record.linkedid,
        "direction": record.direction,
        "caller_number": record.caller_number,
        "caller_name": record.caller_name,
        "dialled_number": record.dialled_number,
        "applicant_number": record.applicant_number,
        "started_at": started,
        "queue_entered_at": to_datetime(record.queue_entered_at),
        "first_ring_at": to_datetime(record.first_ring_at),
        "answered_at": to_datetime(record.answered_at),
        "ended_at": to_datetime(record.ended_at),
        "wait_seconds": record.wait_seconds,
        "ring_seconds": record.ring_seconds,
        "talk_seconds": record.talk_seconds,
        "hold_seconds": record.hold_seconds,
        "operator_endpoint": record.operator_endpoint,
        "disposition": record.disposition,
        "hangup_by": record.hangup_by,
        "hangup_cause": record.hangup_cause,
        "hangup_cause_text": record.hangup_cause_text,
        "queue_name": record.queue_name,
        "recording_file": record.recording_file,
        "final": record.final,
        "partial": record.partial,
        "closed_by_resync": record.closed_by_resync,
        "reconstructed": record.reconstructed,
        "variables": record.variables,
        "transfers": record.transfers,
        "originate": record.originate,
        "timeline": record.timeline,
        "updated_at": now,
    }


class CallStore:
    """Batch writes of what the tracker derived."""

    def __init__(self, sessions: sessionmaker[Session], fence: NodeFence | None = None) -> None:
        self.sessions = sessions
        # Several instances (PostgreSQL): only the holder of a node's lease writes for it.
        self.fence = fence

    def write(
        self,
        records: Sequence[CallRecord],
        devices: Sequence[DeviceState] = (),
        states: Mapping[tuple[str, str], dict[str, Any]] | None = None,
        joined: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Store call records (with the tracker state of unfinished ones) and devices.

        ``joined``: calls that became part of another one (a consultation call after a
        transfer, a picked-up phone's own call): a record stored while they were in
        progress is deleted, the call they joined has their legs and attempts.
        """
        if not records and not devices and not joined:
            return
        now = datetime.now(UTC)
        with self.sessions.begin() as session:
            if self.fence is not None:
                nodes = {r.node for r in records} | {d.node for d in devices}
                refused = self.fence.refused(session, nodes | {k[0] for k in joined})
                if refused:  # another instance follows these nodes now: drop, never retry
                    records = [r for r in records if r.node not in refused]
                    devices = [d for d in devices if d.node not in refused]
                    joined = [k for k in joined if k[0] not in refused]
            if joined:
                self._delete_calls(session, joined)
            if records:
                self._write_calls(session, records, now, states or {})
            if devices:
                self._write_devices(session, devices)

    def _write_calls(
        self,
        session: Session,
        records: Sequence[CallRecord],
        now: datetime,
        states: Mapping[tuple[str, str], dict[str, Any]],
    ) -> None:
        latest = {(r.node, r.linkedid): r for r in records}  # last version of each wins
        keys = list(latest)
        ids: dict[tuple[str, str], int] = {}
        was_final: set[tuple[str, str]] = set()
        for chunk_start in range(0, len(keys), 400):
            chunk = keys[chunk_start : chunk_start + 400]
            rows = session.execute(
                select(Call.id, Call.node, Call.linkedid, Call.final).where(
                    tuple_(Call.node, Call.linkedid).in_(chunk)
                )
            )
            for call_id, node, linkedid, final in rows:
                ids[(node, linkedid)] = call_id
                if final:
                    was_final.add((node, linkedid))
        existing = [k for k in keys if k in ids]
        fresh = [k for k in keys if k not in ids]
        if existing:
            session.execute(
                update(Call),
                [{"id": ids[k], **_call_row(latest[k], now, states.get(k))} for k in existing],
            )
            existing_ids = [ids[k] for k in existing]
            session.execute(delete(CallLeg).where(CallLeg.call_id.in_(existing_ids)))
            session.execute(delete(CallAttempt).where(CallAttempt.call_id.in_(existing_ids)))
        if fresh:
            created = session.execute(
                insert(Call).returning(Call.id, Call.node, Call.linkedid),
                [_call_row(latest[k], now, states.get(k)) for k in fresh],
            )
            ids.update({(node, linkedid): call_id for call_id, node, linkedid in created})
        legs: list[dict[str, Any]] = []
        attempts: list[dict[str, Any]] = []
        for key in keys:
            record, call_id = latest[key], ids[key]
            legs.extend(
                {
                    "call_id": call_id,
                    "uniqueid": leg.uniqueid,
                    "channel": leg.channel,
                    "endpoint": leg.endpoint,
                    "role": leg.role,
                    "created_at": to_datetime(leg.created_at),
                    "answered_at": to_datetime(leg.answered_at),
                    "ended_at": to_datetime(leg.ended_at),
                    "cause": leg.cause,
                    "cause_text": leg.cause_text,
                    "hangup_requested": leg.hangup_requested,
                    "closed_by_resync": leg.closed_by_resync,
                }
                for leg in record.legs
            )
            attempts.extend(
                {
                    "call_id": call_id,
                    "seq": attempt.seq,
                    "endpoint": attempt.endpoint,
                    "uniqueid": attempt.uniqueid,
                    "channel": attempt.channel,
                    "via": attempt.via,
                    "rang_from": to_datetime(attempt.rang_from),
                    "rang_to": to_datetime(attempt.rang_to),
                    "outcome": attempt.outcome,
                }
                for attempt in record.attempts
            )
        if legs:
            session.execute(insert(CallLeg), legs)
        if attempts:
            session.execute(insert(CallAttempt), attempts)
        ended = [k for k in keys if latest[k].final and k not in was_final]
        if ended:
            # call.ended carries the final record, once, in the same transaction.
            targets = subscribers(session, "call.ended")
            owners = operators_by_endpoint(session) if targets else {}
            for key in ended if targets else ():
                data = call_payload(latest[key], ids[key])
                owner = owners.get(data.get("operator_endpoint") or "")
                data["operator_id"], data["operator_login"] = owner or (None, None)
                enqueue(
                    session,
                    event_type="call.ended",
                    subject=f"{key[0]}:{key[1]}",
                    ordering_key=f"call:{key[0]}:{key[1]}",
                    data=data,
                    targets=targets,
                )

    @staticmethod
    def _delete_calls(session: Session, keys: Sequence[tuple[str, str]]) -> None:
        ids = list(
            session.scalars(select(Call.id).where(tuple_(Call.node, Call.linkedid).in_(list(keys))))
        )
        if ids:  # children first: SQLite enforces no ON DELETE CASCADE without the pragma
            session.execute(delete(CallLeg).where(CallLeg.call_id.in_(ids)))
            session.execute(delete(CallAttempt).where(CallAttempt.call_id.in_(ids)))
            session.execute(delete(Call).where(Call.id.in_(ids)))

    def _write_devices(self, session: Session, devices: Sequence[DeviceState]) -> None:
        for state in {(d.node, d.device): d for d in devices}.values():
            values = {
                "state": state.state,
                "contact_status": state.contact_status,
                "reachable": state.reachable,
                "registered": state.registered,
                "contact_uri": state.contact_uri,
                "roundtrip_usec": state.roundtrip_usec,
                "updated_at": to_datetime(state.updated_at) or datetime.now(UTC),
            }
            row = session.get(Device, (state.node, state.device))
            if row is None:
                session.add(Device(node=state.node, device=state.device, **values))
            else:
                for name, value in values.items():
                    setattr(row, name, value)

    def unfinished_states(self, nodes: Sequence[str]) -> list[dict[str, Any]]:
        """The saved tracker state of every unfinished call of ``nodes``."""
        with self.sessions() as session:
            rows = session.scalars(
                select(Call.tracker_state).where(
                    Call.node.in_(list(nodes)),
                    Call.final.is_(False),
                    Call.tracker_state.is_not(None),
                )
            )
            return [row for row in rows if row]

    def close_stale_calls(self, node: str, keep: set[str], at: datetime) -> int:
        """Close stored calls of ``node`` that are neither live nor followed any more.

        Used by the resync after a reconnect or a restart of callagent: a call
        stored as in progress whose channels are gone from the PBX ended while
        nobody was listening. It is closed at the last moment it was written,
        flagged ``closed_by_resync``. Returns how many calls were closed.
        """
        closed = 0
        with self.sessions.begin() as session:
            if self.fence is not None and self.fence.refused(session, {node}):
                return 0
            rows = session.scalars(
                select(Call).where(Call.node == node, Call.final.is_(False))
            ).all()
            for call in rows:
                if call.linkedid in keep:
                    continue
                call.final = True
                call.tracker_state = None
                call.closed_by_resync = True
                call.ended_at = min(call.updated_at, at)
                if call.hangup_by is None:
                    call.hangup_by = "system"
                if call.disposition == "in_progress":
                    if call.answered_at is not None:
                        call.disposition = "answered"
                    elif call.direction == "inbound":
                        call.disposition = "abandoned"
                    else:
                        call.disposition = "no_answer"
                call.timeline = [
                    *call.timeline,
                    {"at": at.timestamp(), "event": "closed_by_resync"},
                ]
                closed += 1
                session.flush()
                enqueue(
                    session,
                    event_type="call.ended",
                    subject=f"{call.node}:{call.linkedid}",
                    ordering_key=f"call:{call.node}:{call.linkedid}",
                    data=call_row_payload(call),
                )
        return closed
