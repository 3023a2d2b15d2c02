"""After every (re)connect to a node: the calls callagent missed, rebuilt from CEL.

Two jobs, both run by the monitor right after its ``CoreShowChannels`` resync:

1. Calls that started *and* ended while callagent was away (stopped, or its AMI
   link down): every linkedid with CEL events since the node's watermark that is
   neither in the call records nor followed by the tracker is interpreted from its
   CEL rows (:mod:`callagent.reconcile.cel`) and stored, flagged ``reconstructed``.
   A linkedid already stored is never touched (the call callagent saw wins), so a
   second run stores nothing new.
2. Calls still going that the resync attached mid-call: CEL says when they really
   started, when the operator answered, the queue and the recording
   (:func:`~callagent.reconcile.cel.restore_from_cel`).
3. Calls callagent followed that ended while it was away: the resync closed them at
   the last moment it had heard of them (``closed_by_resync``); CEL has their real end,
   who hung up and the cause, and, when callagent left while the phone still rang,
   the answer (:func:`end_from_cel`).

The watermark of a node is the last moment callagent stored anything of it
(``calls.updated_at``), less a margin for clock skew; it never reaches further
back than ``CALLAGENT_CEL_LOOKBACK_HOURS``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select

from callagent.config import Settings
from callagent.db.models import Call
from callagent.db.store import CallStore, to_datetime
from callagent.reconcile.cel import CelRow, interpret, is_complete, restore_from_cel
from callagent.reconcile.source import CelSource
from callagent.tracker.records import CallRecord, build_record
from callagent.tracker.state import CallState
from callagent.tracker.tracker import Tracker

log = logging.getLogger(__name__)

SKEW_MARGIN = 60.0  # seconds: the PBX's clock and callagent's may differ a little
_CHUNK = 400


@dataclass(frozen=True, slots=True)
class Reconciled:
    """What one reconciliation of a node did."""

    node: str
    since: float
    seen: int  # linkedids with CEL events in the window
    stored: int  # calls rebuilt and stored now (flagged reconstructed)
    restored: int  # live calls attached mid-call that CEL completed
    ended: int  # calls closed by the resync whose real end CEL gave
    seconds: float


class Reconciler:
    """Rebuilds the calls of the nodes' gaps from their CEL stores."""

    def __init__(
        self,
        store: CallStore,
        tracker: Tracker,
        sources: dict[str, CelSource],
        *,
        lookback_seconds: float = 24 * 3600.0,
        on_changed: Callable[[], None] | None = None,
        stored_first: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.tracker = tracker
        self.sources = sources
        self.lookback_seconds = lookback_seconds
        self.on_changed = on_changed
        # waits until what the tracker changed is stored (the calls the resync closed)
        self.stored_first = stored_first

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        store: CallStore,
        tracker: Tracker,
        on_changed: Callable[[], None] | None = None,
        stored_first: Callable[[], Awaitable[None]] | None = None,
    ) -> Reconciler | None:
        """One source per node that has a CEL store (its own ``cel_url`` or the global)."""
        sources: dict[str, CelSource] = {}
        shared: dict[tuple[str, str], CelSource] = {}
        for node in settings.ami_nodes:
            url = node.cel_url or settings.cel_url
            if not url:
                continue
            key = (url, settings.cel_table)
            if key not in shared:
                shared[key] = CelSource(url, settings.cel_table)
            sources[node.name] = shared[key]
        if not sources:
            return None
        return cls(
            store,
            tracker,
            sources,
            lookback_seconds=settings.cel_lookback_hours * 3600.0,
            on_changed=on_changed,
            stored_first=stored_first,
        )

    # ---------------------------------------------------------------- async

    async def run(self, node: str, connected_at: float) -> Reconciled | None:
        """Reconcile ``node`` (the monitor calls this after each resync).

        ``connected_at``: when this AMI session began; what callagent stored since
        then (the resync's own writes) does not move the watermark.
        """
        source = self.sources.get(node)
        if source is None:
            return None
        started = time.perf_counter()
        if self.stored_first is not None:
            try:
                await self.stored_first()
            except TimeoutError:
                # a busy writer: go on; a closed call not yet stored keeps the resync's end
                log.info("reconciliation of node %s: the writer is still busy", node)
        followed = {key[1] for key in self.tracker.calls if key[0] == node}
        since, seen, records, ended = await asyncio.to_thread(
            self._missed, node, source, connected_at, followed
        )
        # the tracker may have met some of them meanwhile (events go on during the IO):
        # a call callagent follows, or saw end, is never overwritten by its CEL version
        records = [r for r in records if not self.tracker.knows((node, r.linkedid))]
        if records:
            await asyncio.to_thread(self.store.write, records)
        restored = await self._restore_live(node, source)
        if restored and self.on_changed is not None:
            self.on_changed()
        return Reconciled(
            node=node,
            since=since,
            seen=seen,
            stored=len(records),
            restored=restored,
            ended=ended,
            seconds=time.perf_counter() - started,
        )

    async def _restore_live(self, node: str, source: CelSource) -> int:
        partial = [c.linkedid for c in self.tracker.active_calls(node) if c.partial]
        if not partial:
            return 0
        rows = await asyncio.to_thread(source.rows_for, partial)
        restored = 0
        for linkedid, call_rows in rows.items():
            key = (node, linkedid)
            call = self.tracker.calls.get(key) or self.tracker.finished_call(key)
            cel = interpret(node, linkedid, call_rows, self.tracker.classify)
            if call is not None and cel is not None and restore_from_cel(call, cel):
                self.tracker.dirty_calls.add(key)
                restored += 1
        return restored

    # ------------------------------------------------------------ in a thread

    def _missed(
        self, node: str, source: CelSource, connected_at: float, followed: set[str]
    ) -> tuple[float, int, list[CallRecord], int]:
        since = self.window_start(node, connected_at)
        found = {k: v for k, v in source.rows_since(since).items() if k not in followed}
        stored = self._stored(node, list(found))
        ended = self._end_closed(node, {k: v for k, v in found.items() if k in stored})
        records: list[CallRecord] = []
        for linkedid, rows in found.items():
            if linkedid in stored or not is_complete(rows):
                continue  # seen by callagent; or still going (the resync attached it)
            state = interpret(node, linkedid, rows, self.tracker.classify)
            # not a contact (a feature code): never stored, as when followed live
            if state is not None and state.final and state.contact:
                records.append(build_record(state))
        return since, len(found), records, ended

    def window_start(self, node: str, connected_at: float) -> float:
        """Where the gap of ``node`` begins (epoch seconds): the last write before
        ``connected_at``, less a margin, but no earlier than the lookback allows."""
        floor = connected_at - self.lookback_seconds
        before = datetime.fromtimestamp(connected_at, UTC)
        with self.store.sessions() as session:
            last = session.scalar(
                select(func.max(Call.updated_at)).where(Call.node == node, Call.updated_at < before)
            )
        if last is None:
            return floor
        return max(_epoch(last) - SKEW_MARGIN, floor)

    def _end_closed(self, node: str, found: dict[str, list[CelRow]]) -> int:
        """Give the calls the resync closed the end CEL saw; returns how many."""
        ended = 0
        keys = sorted(found)
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            with self.store.sessions.begin() as session:
                fence = self.store.fence  # several instances: only the node's holder writes
                if fence is not None and fence.refused(session, {node}):
                    return ended
                rows = session.scalars(
                    select(Call).where(
                        Call.node == node,
                        Call.linkedid.in_(chunk),
                        Call.closed_by_resync.is_(True),
                        Call.reconstructed.is_(False),
                    )
                ).all()
                for row in rows:
                    cel = found[row.linkedid]
                    if not is_complete(cel):
                        continue
                    state = interpret(node, row.linkedid, cel, self.tracker.classify)
                    if state is not None and state.final and end_from_cel(row, state):
                        ended += 1
        return ended

    def _stored(self, node: str, linkedids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        with self.store.sessions() as session:
            for start in range(0, len(linkedids), _CHUNK):
                chunk = list(linkedids[start : start + _CHUNK])
                found.update(
                    session.scalars(
                        select(Call.linkedid).where(Call.node == node, Call.linkedid.in_(chunk))
                    )
                )
        return found

    def close(self) -> None:
        """Close every CEL store's connections."""
        for source in set(self.sources.values()):
            source.dispose()


def end_from_cel(row: Call, cel: CallState) -> bool:
    """Correct a stored call that the resync closed (callagent had lost sight of it)
    with its end as CEL saw it; what callagent saw itself (the start, the variables,
    the routing) stays. Returns True when the row changed."""
    record = build_record(cel)
    if record.ended_at is None:
        return False
    row.ended_at = to_datetime(record.ended_at)
    row.hangup_by = record.hangup_by
    row.hangup_cause = record.hangup_cause
    row.hangup_cause_text = record.hangup_cause_text
    if row.answered_at is None and record.answered_at is not None:
        # callagent left while the phone rang: CEL saw the answer
        row.answered_at = to_datetime(record.answered_at)
        row.operator_endpoint = record.operator_endpoint
        row.disposition = record.disposition
        row.wait_seconds = record.wait_seconds
        row.ring_seconds = record.ring_seconds
    if row.answered_at is not None:
        talk = record.ended_at - _epoch(row.answered_at) - row.hold_seconds
        row.talk_seconds = round(max(talk, 0.0), 3)
    else:  # nobody answered: the caller waited (and the phones rang) to the real end
        if row.direction == "inbound":
            row.wait_seconds = round(max(record.ended_at - _epoch(row.started_at), 0.0), 3)
        if row.first_ring_at is not None:
            ring = record.ended_at - _epoch(row.first_ring_at)
            row.ring_seconds = round(max(ring, 0.0), 3)
    legs = {leg.uniqueid: leg for leg in record.legs}
    for leg in row.legs:
        seen = legs.get(leg.uniqueid)
        if leg.closed_by_resync and seen is not None and seen.ended_at is not None:
            leg.ended_at = to_datetime(seen.ended_at)
            leg.cause, leg.cause_text = seen.cause, seen.cause_text
            leg.closed_by_resync = False
            if leg.answered_at is None and seen.answered_at is not None:
                leg.answered_at = to_datetime(seen.answered_at)
    outcomes = {a.uniqueid: a for a in record.attempts}
    for attempt in row.attempts:
        seen_attempt = outcomes.get(attempt.uniqueid)
        if attempt.outcome in (None, "unknown") and seen_attempt is not None:
            attempt.outcome = seen_attempt.outcome
            attempt.rang_to = to_datetime(seen_attempt.rang_to)
    row.reconstructed = True
    row.timeline = [*row.timeline, {"at": record.ended_at, "event": "ended_from_cel"}]
    return True


def _epoch(value: datetime) -> float:
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp()
