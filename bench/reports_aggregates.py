"""Report interval aggregates benchmark (issue #12): a year of a large centre, reports
read from the calls against the same reports read with the aggregates.

Generates RECORDS inbound calls (default 1,000,000; ``--records 5000000`` for the
issue's figure) over the last 365 days with the operators' state history a real centre
leaves (``reports_year.py``: COPY on PostgreSQL, executemany on SQLite; the database
triggers fill the dirty queue as in production, unless ``--no-queue``). Then:

  build     ``callagent report aggregate --rebuild [--jobs N]`` (every hour from the
            first record; PostgreSQL is ANALYZEd first, as a live database would be)
  reports   a year by day, by operator and by topic, a month by 15-minute interval and
            by operator, a day by 15-minute interval: with the aggregates REPEAT times
            (p50, p95, the worst), and read from the calls once (a year can take minutes:
            ``--compare-days`` limits that to the shorter periods)

SQLite by default (a file in a temp folder); ``--postgres`` uses a fresh database on
CALLAGENT_BENCH_POSTGRES_URL (or CALLAGENT_TEST_POSTGRES_URL); ``--database URL`` uses
(and keeps) that one, reusing its records on a second run. The figures of both reads
must be the same: the benchmark exits non-zero if they differ.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from common import postgres_database
from reports_year import ZONE, generate
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from callagent.config import Settings
from callagent.db.models import Base
from callagent.db.session import make_engine, make_sessionmaker, upgrade
from callagent.reports.aggregate_store import drain
from callagent.reports.build import build
from callagent.reports.inputs import load_inputs
from callagent.reports.kpi import Kpi
from callagent.reports.periods import local_midnight
from callagent.reports.service import kpi_report, options_of

CALLS = Base.metadata.tables["calls"]
STATES = Base.metadata.tables["operator_state_history"]


def timed(what: Callable[[], Kpi], repeat: int) -> tuple[Kpi, list[float]]:
    """``what``'s answer and each run's seconds."""
    times: list[float] = []
    kpi: Kpi | None = None
    for _ in range(repeat):
        began = time.perf_counter()
        kpi = what()
        times.append(time.perf_counter() - began)
    assert kpi is not None
    return kpi, times


def percentile(times: list[float], share: float) -> float:
    """The ``share`` quantile of ``times`` (nearest rank: one of the measured times)."""
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def differ(got: Any, want: Any, where: str = "") -> Iterator[str]:
    """Where two reports' JSON differ (floats to 1e-6)."""
    if isinstance(want, dict) and isinstance(got, dict):
        for key in sorted(want.keys() | got.keys()):
            yield from differ(got.get(key), want.get(key), f"{where}.{key}")
    elif isinstance(want, list) and isinstance(got, list):
        if len(got) != len(want):
            yield f"{where}: {len(got)} != {len(want)}"
        for n, (one, other) in enumerate(zip(got, want, strict=False)):
            yield from differ(one, other, f"{where}[{n}]")
    elif isinstance(want, float) or isinstance(got, float):
        if got is None or want is None or abs(got - want) > 1e-6 * max(1.0, abs(want)):
            yield f"{where}: {got} != {want}"
    elif got != want:
        yield f"{where}: {got} != {want}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--operators", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=20, help="reads with the aggregates")
    parser.add_argument("--jobs", type=int, default=1, help="processes for the rebuild")
    parser.add_argument(
        "--no-queue",
        action="store_true",
        help="PostgreSQL: generate without the dirty-queue triggers (the rebuild recounts all)",
    )
    parser.add_argument(
        "--compare-days",
        type=int,
        default=366,
        help="read from the calls (and compare) only the reports of at most these days",
    )
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument(
        "--database",
        help="a database URL to use (and keep): a second run reuses its records",
    )
    parser.add_argument(
        "--days", type=int, default=365, help="days of history (fewer: a quicker run)"
    )
    args = parser.parse_args()
    drop: Callable[[], None] | None = None
    if args.postgres:
        server = os.environ.get("CALLAGENT_BENCH_POSTGRES_URL") or os.environ.get(
            "CALLAGENT_TEST_POSTGRES_URL"
        )
        if not server:
            print("--postgres needs CALLAGENT_BENCH_POSTGRES_URL", file=sys.stderr)
            return 2
        url, drop = postgres_database(server)
    elif args.database:
        url = args.database
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='callagent-bench-')) / 'year.db'}"
    try:
        return run(url, args)
    finally:
        if drop is not None:
            drop()


def run(url: str, args: argparse.Namespace) -> int:
    upgrade(url)
    sessions = make_sessionmaker(make_engine(url))
    settings = Settings(_env_file=None, database_url=url, timezone=ZONE)
    zone = ZoneInfo(ZONE)
    today = datetime.now(zone).date()
    last = today - timedelta(days=1)
    began = time.perf_counter()
    with sessions() as db:
        calls = db.scalar(select(func.count()).select_from(CALLS)) or 0
        states = db.scalar(select(func.count()).select_from(STATES)) or 0
    if calls:  # --database of an earlier run (generated up to yesterday of that day)
        print(f"reused {calls:,} calls and {states:,} state changes")
    else:
        calls, states = generate(
            sessions,
            args.records,
            args.operators,
            last,
            days_back=args.days,
            queue=not args.no_queue,
        )
        print(f"generated {calls:,} calls and {states:,} state changes", end="")
        print(f" in {time.perf_counter() - began:.0f} s")
    generated = time.perf_counter() - began
    if url.startswith("postgresql"):  # the planner's statistics, as a live database has
        with sessions.begin() as db:
            db.execute(text("ANALYZE calls"))
            db.execute(text("ANALYZE operator_state_history"))
    before = os.times()
    built = drain(sessions, options_of(settings), rebuild=True, jobs=args.jobs)
    after = os.times()
    # this process's and its (joined) workers' CPU: what the rebuild costs whatever else
    # the machine runs (the database server's own CPU is not in it)
    cpu = sum(after[:4]) - sum(before[:4])
    print(
        f"aggregates built: {built.hours:,} hours in {built.seconds:.1f} s "
        f"({cpu:.0f} CPU s in {args.jobs} worker(s) and this process)"
    )
    year = (local_midnight(last - timedelta(days=args.days - 1), zone), local_midnight(today, zone))
    month = (local_midnight(last - timedelta(days=29), zone), local_midnight(today, zone))
    day = (local_midnight(last, zone), local_midnight(today, zone))
    cases = [
        ("a year by day", year, "day", 30),
        ("a year by operator", year, "operator", 30),
        ("a year by topic", year, "topic", 30),
        ("a month by 15-minute interval", month, "interval", 15),
        ("a month by operator", month, "operator", 30),
        ("a day by 15-minute interval", day, "interval", 15),
    ]
    results: dict[str, Any] = {
        "records": calls,
        "state_changes": states,
        "database": url.split(":")[0],
        "generate_seconds": round(generated, 1),
        "build_seconds": round(built.seconds, 1),
        "build_cpu_seconds": round(cpu, 1),
        "jobs": args.jobs,
        "reports": [],
    }
    failed = False
    for name, (since, until), by, interval in cases:
        with sessions() as db:

            def raw(
                db: Session = db,
                since: datetime = since,
                until: datetime = until,
                by: str = by,
                interval: int = interval,
            ) -> Kpi:
                inputs = load_inputs(db, since=since, until=until)
                return build(
                    inputs, options_of(settings), by=by, zone=zone, interval_minutes=interval
                )

            def cells(
                db: Session = db,
                since: datetime = since,
                until: datetime = until,
                by: str = by,
                interval: int = interval,
            ) -> Kpi:
                return kpi_report(
                    db, settings, since=since, until=until, by=by, interval_minutes=interval
                )

            compared = until - since <= timedelta(days=args.compare_days)
            want, raw_times = timed(raw, 1) if compared else (None, [])
            got, cell_times = timed(cells, args.repeat)
        wrong = list(differ(got.to_json(), want.to_json())) if want is not None else []
        failed |= bool(wrong)
        p50 = statistics.median(cell_times)
        p95 = percentile(cell_times, 0.95)
        row = {
            "report": name,
            "raw_seconds": round(raw_times[0], 3) if raw_times else None,
            "aggregated_p50_seconds": round(p50, 4),
            "aggregated_p95_seconds": round(p95, 4),
            "aggregated_worst_seconds": round(max(cell_times), 4),
            "times_faster": round(raw_times[0] / p50, 1) if raw_times else None,
            "same_figures": (not wrong) if want is not None else None,
            "offered": got.offered,
        }
        results["reports"].append(row)
        print(
            f"{name}: "
            + (f"raw {raw_times[0]:.2f} s, " if raw_times else "not read raw, ")
            + f"aggregated p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms "
            f"(worst {max(cell_times) * 1000:.0f} ms)"
            + ("" if not wrong else f"; DIFFERENT: {wrong[:3]}")
        )
    print(json.dumps(results))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
