"""How long callagent takes to recover the calls of a gap from the CEL store.

N copies of the call recorded while callagent was down
(``live_call_while_callagent_down_with_cel.cel.sqlite3``: 19 CEL rows each, new
uniqueids, 10 s apart) in a cel_sqlite3_custom file; a fresh callagent database; the
simulator PBX. Measured: from the monitor's start (AMI connect, login, CoreShowChannels
resync) until every call is stored as reconstructed.

    .venv/bin/python bench/reconcile.py 100 1000 10000 [--db postgresql://...]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from pathlib import Path

from common import postgres_database
from sqlalchemy import func, select

from callagent.config import AmiNode, Settings
from callagent.db.models import Call
from callagent.db.session import make_engine, make_sessionmaker, upgrade
from callagent.db.store import CallStore
from callagent.monitor import Monitor
from callagent.sim.ami_server import AmiServer

RECORDED = (
    Path(__file__).resolve().parents[2]
    / "shared/pbx-traces/live/live_call_while_callagent_down_with_cel.cel.sqlite3"
)


def build_cel(path: Path, calls: int) -> None:
    """``calls`` copies of the recorded call, each with its own ids and times."""
    with sqlite3.connect(RECORDED) as source:
        (create,) = source.execute("SELECT sql FROM sqlite_master WHERE name = 'cel'").fetchone()
        cursor = source.execute("SELECT * FROM cel ORDER BY AcctId")
        names = [d[0] for d in cursor.description][1:]
        rows = [r[1:] for r in cursor]
    index = {name: i for i, name in enumerate(names)}
    out = []
    for n in range(calls):
        shift = 10.0 * n
        ids = {"1796324539.0": f"{1_700_000_000 + n}.{2 * n}", "1796324540.1": f"x{n}.{2 * n + 1}"}
        for row in rows:
            values = list(row)
            values[index["eventtime"]] = f"{float(row[index['eventtime']]) - 1e8 + shift:.6f}"
            for column in ("uniqueid", "linkedid"):
                values[index[column]] = ids[row[index[column]]]
            out.append(values)
    with sqlite3.connect(path) as target:
        target.execute(create)
        marks = ", ".join("?" * len(names))
        target.executemany(f"INSERT INTO cel ({', '.join(names)}) VALUES ({marks})", out)


async def measure(calls: int, db_url: str, folder: Path) -> float:
    cel = folder / f"cel-{calls}.db"
    build_cel(cel, calls)
    upgrade(db_url)
    engine = make_engine(db_url)
    pbx = AmiServer()
    await pbx.start()
    node = AmiNode(name="pbx1", port=pbx.port, username=pbx.username, secret=pbx.secret)
    settings = Settings(
        _env_file=None,
        database_url=db_url,
        ami_nodes=[node],
        cel_url=f"sqlite:///{cel}",
        cel_lookback_hours=24 * 365 * 100,
        simulator="off",
    )
    monitor = Monitor(settings, CallStore(make_sessionmaker(engine)))
    started = time.perf_counter()
    monitor.start()
    while monitor.reconciliations < 1:  # noqa: ASYNC110 - the monitor offers no event
        await asyncio.sleep(0.005)
    seconds = time.perf_counter() - started
    with make_sessionmaker(engine)() as session:
        stored = session.scalar(select(func.count()).select_from(Call).where(Call.reconstructed))
    assert stored == calls, (stored, calls)
    await monitor.stop()
    await pbx.stop()
    engine.dispose()
    return seconds


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("calls", nargs="+", type=int)
    parser.add_argument("--db", default="", help="a PostgreSQL server URL (default: SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="callagent-reconcile-") as tmp:
        for calls in args.calls:
            drop = None
            if args.db:
                url, drop = postgres_database(args.db)
            else:
                url = f"sqlite:///{Path(tmp) / f'callagent-{calls}.db'}"
            try:
                seconds = await measure(calls, url, Path(tmp))
            finally:
                if drop is not None:
                    drop()
            backend = "PostgreSQL" if args.db else "SQLite"
            print(
                f"{calls} calls ({19 * calls} CEL rows), callagent on {backend}: "
                f"{seconds:.2f} s from connect to stored ({calls / seconds:.0f} calls/s)"
            )


if __name__ == "__main__":
    asyncio.run(main())
