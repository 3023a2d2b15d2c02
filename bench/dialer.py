"""Dialer benchmark: place N entries' calls against the PBX simulator, concurrency 100.

The simulator (AMI server answering Originates with the recorded busy trace, 31
events a call) runs in its own process, as Asterisk would. Measured in one run:

  raw      the simulator's own limit: a bare client keeping 100 Originates in
           flight (a new one as soon as a call's Hangup arrives), no database
  dialer   `callagent campaign run`'s Dialer: leases, attempt rows, results and
           webhooks in the database (SQLite file, or CALLAGENT_BENCH_POSTGRES_URL
           with --postgres), the same 100 calls in flight

Prints originates per second and the end-to-end time of each, and the ratio
dialer / raw (goal >= 0.9). ``--entries`` scales the run down (default 10,000).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import postgres_database

from callagent.ami.parser import AmiMessage, AmiParser

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT / "src" / "callagent" / "sim" / "traces"
CONCURRENCY = 100
ALWAYS = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def _serve(port_queue: Any, speed: float) -> None:
    """The simulator process: AMI with Originate answered by the busy trace."""
    from callagent.sim.ami_server import AmiServer
    from callagent.sim.outbound import OutboundPbx

    logging.disable(logging.WARNING)

    async def main() -> None:
        server = AmiServer(port=0)
        await server.start()
        OutboundPbx(server, TRACES, outcome=lambda number, attempt: "busy", speed=speed)
        port_queue.put(server.port)
        await asyncio.Event().wait()

    asyncio.run(main())


async def raw_client(port: int, calls: int) -> tuple[float, float]:
    """(elapsed to the last Originate sent, elapsed to the last call's end)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reader.readline()
    writer.write(b"Action: Login\r\nUsername: callagent\r\nSecret: callagent-secret\r\n\r\n")
    await writer.drain()
    parser = AmiParser(expect_banner=False)
    free = asyncio.Semaphore(CONCURRENCY)
    ended = 0
    done = asyncio.Event()
    live: set[str] = set()

    async def read() -> None:
        nonlocal ended
        while True:
            data = await reader.read(1 << 16)
            if not data:
                return
            for item in parser.feed(data):
                if (
                    isinstance(item, AmiMessage)
                    and item.event == "Hangup"
                    and item.get("Uniqueid") in live
                ):
                    live.discard(item.get("Uniqueid"))
                    ended += 1
                    free.release()
                    if ended == calls:
                        done.set()

    reading = asyncio.create_task(read())
    started = time.perf_counter()
    for n in range(calls):
        await free.acquire()
        channel_id = f"raw-{n}"
        live.add(channel_id)
        writer.write(
            (
                f"Action: Originate\r\nActionID: raw-a-{n}\r\n"
                f"Channel: PJSIP/7916{n:07d}@trunk\r\nContext: notify-out\r\nExten: s\r\n"
                f"Priority: 1\r\nTimeout: 30000\r\nAsync: true\r\nChannelId: {channel_id}\r\n"
                "Variable: CALLAGENT_ENTRY_ID=0\r\n\r\n"
            ).encode()
        )
        await writer.drain()
    placed = time.perf_counter() - started
    await asyncio.wait_for(done.wait(), 300)
    total = time.perf_counter() - started
    reading.cancel()
    writer.close()
    return placed, total


def prepare(url: str, entries: int) -> None:
    """Schema, one running campaign, ``entries`` due entries."""
    from sqlalchemy import insert

    from callagent.db.campaign_models import Campaign, RegistryEntry, RegistryImport
    from callagent.db.session import make_engine, make_sessionmaker, upgrade

    logging.getLogger("alembic").setLevel(logging.WARNING)
    upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        campaign = Campaign(
            name="bench",
            mode="message",
            status="running",
            window=ALWAYS,
            holidays=[],
            max_concurrent=CONCURRENCY,
            max_attempts=3,
            calls_per_second=100_000.0,
        )
        session.add(campaign)
        session.flush()
        record = RegistryImport(campaign_id=campaign.id, filename="bench.csv", sha256="0" * 64)
        session.add(record)
        session.flush()
        now = datetime.now(UTC)
        rows = [
            {
                "campaign_id": campaign.id,
                "import_id": record.id,
                "row_number": n + 2,
                "dedupe_key": f"B-{n}",
                "applicant_name": f"Applicant {n}",
                "phones": [f"+7495{n:07d}"],
                "phone_timezones": ["Europe/Moscow"],
                "case_number": f"B-{n}",
                "raw": {},
                "status": "pending",
                "attempts": 0,
                "updated_at": now,
            }
            for n in range(entries)
        ]
        for start in range(0, len(rows), 2000):
            session.execute(insert(RegistryEntry), rows[start : start + 2000])
    engine.dispose()


async def run_dialer(url: str, port: int) -> tuple[int, float, float, dict[str, int]]:
    """(placed, elapsed to the last Originate, end-to-end, results)."""
    from pydantic import SecretStr

    from callagent.ami.client import AmiClient
    from callagent.campaigns.dialer import Dialer, DialerConfig
    from callagent.config import AmiNode
    from callagent.db.session import make_engine, make_sessionmaker

    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    last_sent = 0.0
    dialer = Dialer(sessions, config=DialerConfig(lease_seconds=300.0, response_timeout=30.0))
    node = AmiNode(name="sim", port=port, secret=SecretStr("callagent-secret"))
    client = AmiClient(node, on_event=dialer.on_event, ping_interval=60, reconnect_min=0.05)
    dialer.client = client
    original = client.send_action

    async def timed(action: dict[str, Any], **kw: Any) -> Any:
        nonlocal last_sent
        last_sent = time.perf_counter()
        return await original(action, **kw)

    client.send_action = timed  # type: ignore[method-assign]
    connection = asyncio.create_task(client.run())
    for _ in range(1000):
        if client.connected:
            break
        await asyncio.sleep(0.01)
    started = time.perf_counter()
    summary = await dialer.run()
    total = time.perf_counter() - started
    await client.stop()
    connection.cancel()
    await asyncio.gather(connection, return_exceptions=True)
    engine.dispose()
    return summary.placed, last_sent - started, total, dict(summary.results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=10_000, help="entries to dial")
    parser.add_argument("--speed", type=float, default=1.0, help="simulator replay speed")
    parser.add_argument("--postgres", action="store_true", help="use CALLAGENT_BENCH_POSTGRES_URL")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    ctx = multiprocessing.get_context("spawn")
    ports: Any = ctx.Queue()
    sim = ctx.Process(target=_serve, args=(ports, args.speed), daemon=True)
    sim.start()
    port = ports.get(timeout=30)
    drop = None
    try:
        print(
            f"dialer benchmark: {args.entries} entries, {CONCURRENCY} calls in flight, "
            f"simulator busy trace at speed {args.speed}"
        )
        raw_placed, raw_total = asyncio.run(raw_client(port, args.entries))
        raw_rate = args.entries / raw_placed
        print(
            f"  raw client: {raw_rate:8.0f} originates/s, all {args.entries} calls ended "
            f"in {raw_total:6.1f} s"
        )
        with tempfile.TemporaryDirectory(prefix="callagent-bench-") as tmp:
            if args.postgres:
                server = os.environ.get("CALLAGENT_BENCH_POSTGRES_URL") or os.environ.get(
                    "CALLAGENT_TEST_POSTGRES_URL", ""
                )
                if not server:
                    print("  --postgres needs CALLAGENT_BENCH_POSTGRES_URL")
                    return 2
                url, drop = postgres_database(server)
                where = "PostgreSQL"
            else:
                url = f"sqlite:///{Path(tmp) / 'bench.db'}"
                where = "SQLite"
            prepare(url, args.entries)
            placed, sent, total, results = asyncio.run(run_dialer(url, port))
        rate = placed / sent if sent > 0 else 0.0
        print(
            f"  dialer ({where}): {rate:5.0f} originates/s, all {placed} calls settled and "
            f"stored in {total:6.1f} s; results {results}"
        )
        ratio = rate / raw_rate
        print(f"  dialer / raw: {ratio:.2f} (goal >= 0.90)")
        return 0 if placed == args.entries else 1
    finally:
        if drop is not None:
            drop()
        sim.terminate()
        sim.join(5)


if __name__ == "__main__":
    sys.exit(main())
