"""The writer: a database that goes away for a while loses nothing, and never stalls reading."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.exc import OperationalError

from callagent.ami.parser import AmiMessage, AmiParser
from callagent.db.queries import all_calls_detailed
from callagent.db.session import make_engine, make_sessionmaker
from callagent.db.store import CallStore
from callagent.db.writer import CallWriter
from callagent.tracker.records import CallRecord
from callagent.tracker.state import DeviceState
from callagent.tracker.tracker import Tracker
from tests.conftest import trace_bytes


class FlakyStore(CallStore):
    """A store whose database is unreachable until ``down_until``, and slow when up."""

    def __init__(self, store: CallStore, down_until: float, delay: float = 0.0) -> None:
        super().__init__(store.sessions)
        self.down_until = down_until
        self.delay = delay
        self.refused = 0

    def write(
        self,
        records: Sequence[CallRecord],
        devices: Sequence[DeviceState] = (),
        states: Mapping[tuple[str, str], dict[str, Any]] | None = None,
        joined: Sequence[tuple[str, str]] = (),
    ) -> None:
        if time.monotonic() < self.down_until:
            self.refused += 1
            raise OperationalError("INSERT", {}, Exception("connection refused"))
        time.sleep(self.delay)  # a slow database: runs in the writer's thread
        super().write(records, devices, states, joined)


async def test_a_database_outage_loses_nothing(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        store = FlakyStore(
            CallStore(make_sessionmaker(engine)), down_until=time.monotonic() + 1.5, delay=0.2
        )
        tracker = Tracker()
        writer = CallWriter(tracker, store, flush_interval=0, retry_max=0.2)
        task = asyncio.create_task(writer.run())
        events = [
            e for e in AmiParser().feed(trace_bytes("load_50_calls")) if isinstance(e, AmiMessage)
        ]
        gaps = []
        for index, event in enumerate(events):
            tracker.feed("pbx1", event, 0.0)
            writer.notify()
            if index % 50 == 0:
                started = time.monotonic()
                await asyncio.sleep(0)
                gaps.append(time.monotonic() - started)
        # the loop was never blocked by the (failing, then slow) database
        assert max(gaps) < 0.1
        await writer.drain(timeout=30)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert store.refused >= 1
        assert writer.failures >= 1
        assert writer.last_error is not None and "connection refused" in writer.last_error
        with store.sessions() as session:
            calls = all_calls_detailed(session)
        assert len(calls) == 50
        assert all(c.final and c.disposition == "answered" for c in calls)
        assert sum(len(c.legs) for c in calls) == 100
    finally:
        engine.dispose()
