"""The one writer: drains what the tracker changed and stores it in batches.

The AMI read path never touches the database. It feeds the tracker, which
marks calls and devices dirty, and wakes this writer. The writer coalesces
(a call that changed 50 times since the last batch is written once), builds
the records on the event loop (the tracker is not thread-safe, and this is
cheap), and runs the SQL in a worker thread so the loop never stalls. If the
database goes away, the dirty marks stay and the batch is retried with
back-off: nothing is lost while the tracker still holds the calls.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from callagent.db.store import CallStore
from callagent.tracker.records import CallRecord, build_record
from callagent.tracker.state import CallKey, DeviceState, state_to_json
from callagent.tracker.tracker import Tracker

log = logging.getLogger(__name__)


class CallWriter:
    """Background task that stores dirty calls and devices of a tracker."""

    def __init__(
        self,
        tracker: Tracker,
        store: CallStore,
        *,
        batch_size: int = 500,
        flush_interval: float = 0.05,
        retry_max: float = 30.0,
        on_written: Callable[[list[CallRecord]], None] | None = None,
    ) -> None:
        self.tracker = tracker
        self.store = store
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.retry_max = retry_max
        self.on_written = on_written
        self.batches = 0
        self.records_written = 0
        self.failures = 0
        self.last_error: str | None = None
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    def notify(self) -> None:
        """Tell the writer that the tracker has something new (cheap, from any callback)."""
        self._idle.clear()
        self._wake.set()

    @property
    def pending(self) -> int:
        """Calls and devices changed but not yet stored."""
        tracker = self.tracker
        return len(tracker.dirty_calls) + len(tracker.dirty_devices) + len(tracker.merged_calls)

    async def run(self) -> None:
        """Write forever (until cancelled)."""
        delay = 0.5
        while True:
            if not self.pending:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
            if self.flush_interval:
                await asyncio.sleep(self.flush_interval)
            try:
                await self.flush_once()
                delay = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
                log.warning(
                    "could not store call records (%s); %d change(s) kept in memory, "
                    "retrying in %.1f s",
                    self.last_error,
                    self.pending,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max)

    async def flush_once(self) -> int:
        """Store one batch; return how many call records it held."""
        call_keys, device_keys = self._take_batch()
        joined = list(self.tracker.merged_calls)
        self.tracker.merged_calls.clear()
        if not call_keys and not device_keys and not joined:
            return 0
        records: list[CallRecord] = []
        states: dict[CallKey, dict[str, Any]] = {}
        finished: list[CallKey] = []
        for key in call_keys:
            state = self.tracker.calls.get(key)
            if state is not None:
                states[key] = state_to_json(state)
            else:
                state = self.tracker.finished_call(key)
                if state is None:
                    continue
                finished.append(key)
            records.append(build_record(state))
        devices: list[DeviceState] = [
            self.tracker.devices[k] for k in device_keys if k in self.tracker.devices
        ]
        started = time.perf_counter()
        try:
            await asyncio.to_thread(self.store.write, records, devices, states, joined)
        except BaseException:
            # Put the marks back: the next batch writes the newest state of each.
            self.tracker.dirty_calls.update(call_keys)
            self.tracker.dirty_devices.update(device_keys)
            self.tracker.merged_calls.update(joined)
            raise
        for key in finished:
            if key not in self.tracker.dirty_calls:
                self.tracker.release_finished(key)
        self.batches += 1
        self.records_written += len(records)
        log.debug(
            "stored %d call record(s), %d device(s) in %.1f ms",
            len(records),
            len(devices),
            (time.perf_counter() - started) * 1000,
        )
        if self.on_written is not None and records:
            self.on_written(records)
        return len(records)

    def _take_batch(self) -> tuple[list[CallKey], list[tuple[str, str]]]:
        dirty = self.tracker.dirty_calls
        if len(dirty) <= self.batch_size:
            calls = list(dirty)
            dirty.clear()
        else:
            calls = [dirty.pop() for _ in range(self.batch_size)]
        devices = list(self.tracker.dirty_devices)
        self.tracker.dirty_devices.clear()
        return calls, devices

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait until everything changed so far is stored (tests, shutdown, replay)."""
        deadline = time.monotonic() + timeout
        while self.pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.pending} change(s) still not stored after {timeout} s")
            self.notify()
            await asyncio.sleep(0.01)
        await asyncio.wait_for(self._idle.wait(), max(deadline - time.monotonic(), 0.01))
