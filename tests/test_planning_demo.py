"""'callagent plan demo-history' on SQLite and PostgreSQL: weeks of demo calls that the
forecast reads, a second run replacing (not doubling) them, other calls left alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from callagent.db.models import Call
from callagent.db.session import make_engine, make_sessionmaker
from callagent.planning.demo import DEMO_NODE

ZONE = ZoneInfo("Europe/Moscow")


def cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CALLAGENT_DATABASE_URL": db_url,
        "CALLAGENT_TIMEZONE": "Europe/Moscow",
        "CALLAGENT_PLANNING_HISTORY_WEEKS": "3",
    }
    return subprocess.run(
        [sys.executable, "-m", "callagent", "plan", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_demo_history_to_forecast_from(db_url: str) -> None:
    sessions = make_sessionmaker(make_engine(db_url))
    yesterday = datetime.now(ZONE).date() - timedelta(days=1)
    noon = datetime.combine(yesterday, datetime.min.time(), tzinfo=ZONE) + timedelta(hours=12)
    with sessions.begin() as db:  # a real call of yesterday: no demo run may touch it
        db.add(
            Call(
                node="pbx1",
                linkedid="real-1",
                direction="inbound",
                started_at=noon,
                ended_at=noon + timedelta(minutes=1),
                wait_seconds=5.0,
                disposition="abandoned",
                final=True,
                updated_at=noon,
            )
        )
    first = cli(db_url, "demo-history", "--weeks", "3", "--calls-per-day", "200")
    assert first.returncode == 0, first.stderr
    again = cli(db_url, "demo-history", "--weeks", "3", "--calls-per-day", "200")
    assert again.returncode == 0, again.stderr
    assert first.stdout == again.stdout  # the same seed: the same history, replaced
    stored = int(first.stdout.split()[1])
    with sessions() as db:
        demo = db.scalar(select(func.count()).where(Call.node == DEMO_NODE))
        real = db.scalar(select(func.count()).where(Call.node == "pbx1"))
    assert demo == stored and real == 1
    assert 2000 < stored < 4000  # 3 weeks of 200 on Mondays, fewer on other days
    done = cli(db_url, "forecast", "--days", "1", "--json")
    assert done.returncode == 0, done.stderr
    forecast = json.loads(done.stdout)
    assert forecast["history"]["calls"] == stored + 1
    assert forecast["accuracy"]["weeks"] == 2
    assert forecast["accuracy"]["wmape_day"] < 0.15
    # the forecast reads the demo's shape: nobody calls at night, the morning peak does
    by_hour = {one["start"][11:16]: one["offered"] for one in forecast["intervals"]}
    assert by_hour["03:00"] == 0 and by_hour["10:30"] > by_hour["08:00"] > 0
