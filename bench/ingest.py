"""Ingest benchmark: AMI bytes -> events -> call records, against baselines in the same run.

Builds a long stream from the recorded traces (ids rewritten so every copy is a
new set of calls, copies interleaved so calls overlap), then measures events/s of:

  baseline   the simplest parser: split on the blank line, headers into a dict
  panoramisk panoramisk 1.4's own protocol parser on the same bytes
  parser     callagent's sans-IO parser
  tracker    callagent's parser + tracker, in memory
  sqlite     the full pipeline (parser, tracker, writer) into SQLite
  postgres   the same into PostgreSQL (CALLAGENT_BENCH_POSTGRES_URL or ..._TEST_...)

and prints each as a ratio to the baseline, with peak memory.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import tempfile
import time
import tracemalloc
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import postgres_database

from callagent.ami.parser import AmiMessage, AmiParser
from callagent.db.session import make_engine, make_sessionmaker, upgrade
from callagent.db.store import CallStore
from callagent.replay import replay_bytes
from callagent.sim.ami_server import trace_body
from callagent.tracker.tracker import Tracker

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT.parent / "shared" / "pbx-traces"
SOURCES = (
    "load_50_calls",
    "inbound_no_answer_then_next",
    "hold_unhold",
    "queue_answered",
    "outbound_notify_busy",
    "click_to_call",
)
CHUNK = 65536
_ID = re.compile(
    rb"^((?:Dest|Transferer|Transferee)?(?:Uniqueid|Linkedid|UniqueID|LinkedID)): (\d+)\.(\d+)\r$",
    re.M,
)
_STAMP = re.compile(rb"^Timestamp: (\d+\.\d+)\r$", re.M)


def _copy(body: bytes, copy: int) -> list[bytes]:
    """One copy of a trace body with ids and times moved; as a list of frames."""

    def new_id(match: re.Match[bytes]) -> bytes:
        seconds = int(match.group(2)) + copy * 100_000
        return match.group(1) + b": " + str(seconds).encode() + b"." + match.group(3) + b"\r"

    def new_stamp(match: re.Match[bytes]) -> bytes:
        return b"Timestamp: " + f"{float(match.group(1)) + copy * 0.5:.6f}".encode() + b"\r"

    text = _STAMP.sub(new_stamp, _ID.sub(new_id, body))
    text = text.replace(b"c2c-1-op", f"c2c-{copy}-op".encode())
    return [frame + b"\r\n\r\n" for frame in text.split(b"\r\n\r\n") if frame.strip()]


def build_stream(min_events: int) -> tuple[bytes, int, int]:
    """(bytes, events, calls per round): round-robin interleaving of 4 copies at a time."""
    bodies = [trace_body((TRACES / f"{name}.ami").read_bytes()) for name in SOURCES]
    per_round = sum(b.count(b"\r\nEvent: ") + b.startswith(b"Event: ") for b in bodies)
    calls_per_round = 50 + 5  # load_50_calls + one call in each other trace
    rounds = -(-min_events // per_round)
    frames: list[bytes] = []
    for group in range(0, rounds, 4):
        queues = [
            deque(_copy(b"".join(bodies), copy)) for copy in range(group, min(group + 4, rounds))
        ]
        while any(queues):
            for queue in queues:
                for _ in range(3):
                    if queue:
                        frames.append(queue.popleft())
    data = b"".join(frames)
    events = data.count(b"\r\nEvent: ") + data.startswith(b"Event: ")
    return data, events, calls_per_round * rounds


def chunks(data: bytes) -> list[bytes]:
    return [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]


def run_baseline(parts: list[bytes]) -> int:
    data = b"".join(parts)
    count = 0
    for frame in data.split(b"\r\n\r\n"):
        headers = dict(
            line.split(": ", 1)
            for line in frame.decode("utf-8", "replace").split("\r\n")
            if ": " in line
        )
        if "Event" in headers:
            count += 1
    return count


class _Transport:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


class _Factory:
    def __init__(self) -> None:
        self.events = 0
        self.forgetable_actions: tuple[str, ...] = ()
        self.awaiting_actions: deque[Any] = deque()
        self.save_stream = None

    def dispatch(self, message: Any) -> None:
        self.events += 1

    def connection_lost(self, exc: Any) -> None:
        pass


def run_panoramisk(parts: list[bytes]) -> int:
    from panoramisk.ami_protocol import AMIProtocol

    protocol = AMIProtocol()
    protocol.connection_made(_Transport())
    factory = _Factory()
    protocol.factory = factory
    protocol.encoding = "utf8"
    protocol.version = "11.0.0"
    for part in parts:
        protocol.data_received(part)
    return factory.events


def run_parser(parts: list[bytes]) -> int:
    parser = AmiParser(expect_banner=False)
    count = 0
    for part in parts:
        for item in parser.feed(part):
            if isinstance(item, AmiMessage) and item.event:
                count += 1
    return count


def run_tracker(parts: list[bytes]) -> int:
    parser = AmiParser(expect_banner=False)
    tracker = Tracker()
    count = 0
    for part in parts:
        for item in parser.feed(part):
            if isinstance(item, AmiMessage) and item.event:
                tracker.feed("pbx1", item, 0.0)
                count += 1
        tracker.dirty_calls.clear()
        tracker.dirty_devices.clear()
    run_tracker.calls = len(tracker._finished)  # type: ignore[attr-defined]
    return count


def best_of(
    runner: Callable[[list[bytes]], int], parts: list[bytes], repeat: int = 3
) -> tuple[float, int]:
    """(best events/s, events) over ``repeat`` runs."""
    best = 0.0
    events = 0
    for _ in range(repeat):
        started = time.perf_counter()
        events = runner(parts)
        best = max(best, events / (time.perf_counter() - started))
    return best, events


def peak_memory(runner: Callable[[list[bytes]], int], parts: list[bytes]) -> float:
    """Peak traced memory of one run, in MiB."""
    tracemalloc.start()
    runner(parts)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def run_pipeline(url: str, data: bytes) -> tuple[float, int]:
    """events/s of parser + tracker + writer into the database at ``url``."""
    upgrade(url)
    engine = make_engine(url)
    try:
        store = CallStore(make_sessionmaker(engine))
        started = time.perf_counter()
        tracker, _ = asyncio.run(replay_bytes(data, store))
        elapsed = time.perf_counter() - started
        return tracker.events_seen / elapsed, len(tracker._finished)
    finally:
        engine.dispose()


def main() -> int:
    min_events = int(os.environ.get("CALLAGENT_BENCH_EVENTS", "120000"))
    data, events, calls = build_stream(min_events)
    parts = chunks(data)
    print(
        f"stream: {len(data) / 2**20:.1f} MiB, {events} events, {calls} calls, {len(parts)} chunks"
    )
    results: dict[str, dict[str, float]] = {}
    for name, runner in (
        ("baseline", run_baseline),
        ("panoramisk", run_panoramisk),
        ("parser", run_parser),
        ("tracker", run_tracker),
    ):
        rate, counted = best_of(runner, parts)
        results[name] = {
            "events_per_s": rate,
            "events": counted,
            "peak_mib": peak_memory(runner, parts),
        }
    tracked_calls = run_tracker.calls  # type: ignore[attr-defined]
    pipeline_data = data[: len(data) // 2] if len(data) > 40 * 2**20 else data
    with tempfile.TemporaryDirectory() as tmp:
        rate, stored = run_pipeline(f"sqlite:///{tmp}/bench.db", pipeline_data)
        results["sqlite"] = {"events_per_s": rate, "calls": stored}
    server = os.environ.get("CALLAGENT_BENCH_POSTGRES_URL") or os.environ.get(
        "CALLAGENT_TEST_POSTGRES_URL"
    )
    if server:
        url, drop = postgres_database(server)
        try:
            rate, stored = run_pipeline(url, pipeline_data)
            results["postgres"] = {"events_per_s": rate, "calls": stored}
        finally:
            drop()
    else:
        print(
            "postgres: skipped (set CALLAGENT_BENCH_POSTGRES_URL to a server where the role "
            "may create databases)"
        )
    base = results["baseline"]["events_per_s"]
    print(f"\n{'what':<12}{'events/s':>12}{'x baseline':>12}{'peak MiB':>10}")
    for name, row in results.items():
        peak = f"{row['peak_mib']:.1f}" if "peak_mib" in row else "-"
        print(
            f"{name:<12}{row['events_per_s']:>12,.0f}{row['events_per_s'] / base:>12.2f}{peak:>10}"
        )
    print(f"\ntracker followed {tracked_calls} calls (expected {calls})")
    goals = [
        ("parser + tracker >= 60,000 events/s", results["tracker"]["events_per_s"] >= 60_000),
        ("parser + tracker >= 40% of baseline", results["tracker"]["events_per_s"] >= 0.4 * base),
        ("full pipeline SQLite >= 20,000 events/s", results["sqlite"]["events_per_s"] >= 20_000),
    ]
    for goal, ok in goals:
        print(f"{'PASS' if ok else 'MISS'}  {goal}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "ingest.json").write_text(
        json.dumps({"events": events, "calls": calls, "results": results}, indent=2)
    )
    return 0 if tracked_calls == calls else 1


if __name__ == "__main__":
    sys.exit(main())
