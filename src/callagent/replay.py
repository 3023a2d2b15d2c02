"""Feed a recorded AMI trace through the parser, tracker and store, without Asterisk.

Used by ``callagent replay`` (PBX administrators checking how callagent reads
their PBX) and by the tests. The same code path as the live listener, minus
the socket.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from callagent.ami.parser import AmiMessage, AmiParser
from callagent.db.store import CallStore
from callagent.db.writer import CallWriter
from callagent.tracker.tracker import Tracker


async def replay_bytes(
    data: bytes,
    store: CallStore,
    *,
    node: str = "pbx1",
    trunk_endpoints: tuple[str, ...] = ("PJSIP/trunk",),
    chunk_size: int = 65536,
) -> tuple[Tracker, int]:
    """Replay raw AMI bytes into ``store``; return the tracker and the malformed count."""
    tracker = Tracker(trunk_endpoints=trunk_endpoints)
    writer = CallWriter(tracker, store, flush_interval=0)
    parser = AmiParser()
    malformed = 0
    task = asyncio.create_task(writer.run())
    try:
        for start in range(0, len(data), chunk_size):
            for item in parser.feed(data[start : start + chunk_size]):
                if isinstance(item, AmiMessage):
                    tracker.feed(node, item, time.time())
                else:
                    malformed += 1
            writer.notify()
            await asyncio.sleep(0)
        await writer.drain()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return tracker, malformed


def read_trace(path: Path) -> bytes:
    """The bytes of a trace file, with a clear error when it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SystemExit(f"cannot read the trace {path}: {exc.strerror}") from exc
