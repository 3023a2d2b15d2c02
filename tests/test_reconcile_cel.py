"""Calls that began and ended while callagent was down, rebuilt from the CEL store.

``live_call_while_callagent_down_with_cel``: callagent stopped, a caller came in at
19:02:19.7, the fallback queue ``support`` rang op1001, who answered at 19:02:22.32,
and the caller hung up at about 19:02:26.3 (queue_log: wait 2 s, talk 4 s). Asterisk's
cel_sqlite3_custom wrote 19 rows (``.cel.sqlite3``). callagent came back at 19:02:41,
after the recording had ended: its connection saw no event of the call, and
CoreShowChannels listed nothing. On the old code the call never appeared
(``.calls_after_restart.json``).
"""

from __future__ import annotations

import csv
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text, update

from callagent.db.models import Call
from callagent.db.session import make_engine, make_sessionmaker, normalise_url
from callagent.db.store import CallStore
from callagent.reconcile.service import Reconciler
from callagent.reconcile.source import CelConfigError, CelSource
from callagent.tracker.tracker import Tracker
from tests.conftest import (
    LIVE_TRACES,
    _pg_database,
    _pg_drop,
    require_postgres,
    running_service,
    wait_for,
)
from tests.resync_traces import at

NAME = "live_call_while_callagent_down_with_cel"
LINKEDID = "1796324539.0"
FOREVER = 24 * 365 * 100.0  # hours: the recording's day is always inside the lookback


def cel_copy(tmp_path: Path) -> Path:
    """Asterisk's file, copied: the tests never touch the recording."""
    return Path(shutil.copy(LIVE_TRACES / f"{NAME}.cel.sqlite3", tmp_path / "master.db"))


def _epoch(value: str | None) -> float | None:
    return None if value is None else datetime.fromisoformat(value).timestamp()


def check_rebuilt(record: dict[str, Any]) -> None:
    """The call as Asterisk's CEL rows tell it (times to the microsecond of the rows)."""
    assert record["linkedid"] == LINKEDID and record["node"] == "pbx1"
    assert record["reconstructed"] is True
    assert record["direction"] == "inbound"
    assert record["applicant_number"] == "79031234567"
    assert record["dialled_number"] == "4951112233"
    assert _epoch(record["started_at"]) == pytest.approx(at("19:02:19.809804"), abs=1e-5)
    assert _epoch(record["queue_entered_at"]) == pytest.approx(at("19:02:20.313373"), abs=1e-5)
    assert _epoch(record["answered_at"]) == pytest.approx(at("19:02:22.320539"), abs=1e-5)
    assert _epoch(record["ended_at"]) == pytest.approx(at("19:02:26.322783"), abs=1e-5)
    assert record["wait_seconds"] == pytest.approx(2.511)  # queue_log CONNECT: 2
    assert record["talk_seconds"] == pytest.approx(4.002)  # queue_log COMPLETECALLER: 4
    assert record["queue_name"] == "support"
    assert record["operator_endpoint"] == "PJSIP/op1001"
    assert record["disposition"] == "answered"
    assert record["hangup_by"] == "applicant"  # HANGUP extra: hangupsource the trunk
    assert record["hangup_cause"] == 16 and record["hangup_cause_text"] == "Normal Clearing"
    assert record["final"] is True and record["partial"] is False


async def _calls(service: Any) -> list[dict[str, Any]]:
    page = (await service.client.get("/api/v1/calls", params={"limit": 50})).json()
    details = []
    for item in page["items"]:
        details.append((await service.client.get(f"/api/v1/calls/{item['id']}")).json())
    assert page["total"] == len(details)
    return details


async def test_call_while_down_is_rebuilt_once(db_url: str, tmp_path: Path) -> None:
    """Start, reconnect, restart: the call is there once, the same each time."""
    cel = cel_copy(tmp_path)
    options = {"cel_url": f"sqlite:///{cel}", "cel_lookback_hours": FOREVER}
    async with running_service(db_url, **options) as service:
        await wait_for(lambda: service.monitor.reconciliations >= 1)
        (record,) = await _calls(service)
        check_rebuilt(record)
        assert [(a["endpoint"], a["via"], a["outcome"]) for a in record["attempts"]] == [
            ("PJSIP/op1001", "queue", "answered")
        ]
        assert [leg["channel"] for leg in record["legs"]] == [
            "PJSIP/trunk-00000000",
            "PJSIP/op1001-00000001",
        ]
        # the AMI link drops and comes back: a second reconciliation, nothing new
        (conn,) = service.pbx.connections
        conn.writer.close()
        await wait_for(lambda: service.monitor.reconciliations >= 2)
        assert await _calls(service) == [record]
    async with running_service(db_url, **options) as service:  # callagent restarted
        await wait_for(lambda: service.monitor.reconciliations >= 1)
        assert await _calls(service) == [record]


async def test_without_a_cel_store_the_call_is_missing(db_url: str) -> None:
    """What the live run showed, and the README says: no CEL store, no record."""
    async with running_service(db_url) as service:
        await wait_for(lambda: service.monitor.resyncs >= 1)
        assert service.monitor.reconciler is None
        assert await _calls(service) == []


def _reconciler(db_url: str, cel_url: str) -> tuple[Reconciler, Any]:
    engine = make_engine(db_url)
    reconciler = Reconciler(
        CallStore(make_sessionmaker(engine)),
        Tracker(),
        {"pbx1": CelSource(cel_url)},
        lookback_seconds=FOREVER * 3600,
    )
    return reconciler, engine


async def test_a_call_callagent_saw_is_never_rewritten(db_url: str, tmp_path: Path) -> None:
    reconciler, engine = _reconciler(db_url, f"sqlite:///{cel_copy(tmp_path)}")
    try:
        done = await reconciler.run("pbx1", at("19:02:41"))
        assert done is not None and done.stored == 1
        # make the stored row one that callagent followed live, with its own values
        sessions = make_sessionmaker(engine)
        with sessions.begin() as session:
            session.execute(
                update(Call).values(reconstructed=False, queue_name="seen-live", talk_seconds=9.0)
            )
        again = await reconciler.run("pbx1", at("19:02:41"))
        assert again is not None and again.seen == 1 and again.stored == 0
        with sessions() as session:
            (row,) = session.query(Call).all()
            assert (row.reconstructed, row.queue_name, row.talk_seconds) == (
                False,
                "seen-live",
                9.0,
            )
    finally:
        reconciler.close()
        engine.dispose()


async def test_the_window_starts_at_the_last_write_before_the_gap(
    db_url: str, tmp_path: Path
) -> None:
    """A node whose last stored change is after the call (callagent was up then, and
    saw everything) does not look at it again; one stored before the call does."""
    reconciler, engine = _reconciler(db_url, f"sqlite:///{cel_copy(tmp_path)}")
    sessions = make_sessionmaker(engine)
    try:
        seen = await reconciler.run("pbx1", at("19:02:41"))
        assert seen is not None and seen.stored == 1
        with sessions.begin() as session:  # pretend it was written live at 19:05
            session.execute(
                update(Call).values(
                    linkedid="1796324400.9", updated_at=datetime.fromtimestamp(at("19:05:00"), UTC)
                )
            )
        later = await reconciler.run("pbx1", at("19:10:00"))  # a reconnect at 19:10
        assert later is not None and later.since == pytest.approx(at("19:04:00"))
        assert later.seen == 0 and later.stored == 0
        with sessions.begin() as session:  # the last write was at 19:01:30: a gap since
            session.execute(
                update(Call).values(updated_at=datetime.fromtimestamp(at("19:01:30"), UTC))
            )
        gap = await reconciler.run("pbx1", at("19:02:41"))
        assert gap is not None and gap.since == pytest.approx(at("19:00:30"))
        assert gap.stored == 1
        # writes after the connection began (the resync's own) do not move the window
        assert reconciler.window_start("pbx1", at("19:01:00")) == pytest.approx(
            at("19:01:00") - FOREVER * 3600
        )
    finally:
        reconciler.close()
        engine.dispose()


def test_a_store_without_linkedid_is_refused_clearly(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE cel (eventtype, eventtime, channame, uniqueid)")
    source = CelSource(f"sqlite:///{path}")
    with pytest.raises(CelConfigError, match="linkedid"):
        source.rows_since(0.0)
    source.dispose()


def test_the_reader_never_writes(tmp_path: Path) -> None:
    cel = cel_copy(tmp_path)
    before = cel.read_bytes()
    source = CelSource(f"sqlite:///{cel}")
    with source.engine.connect() as conn, pytest.raises(Exception, match="readonly"):
        conn.execute(text("DELETE FROM cel"))
    assert list(source.rows_since(at("19:02:26"))) == [LINKEDID]
    assert source.rows_since(at("19:02:27")) == {}
    source.dispose()
    assert cel.read_bytes() == before


# cel_pgsql's own column names (cel_pgsql.conf.sample: cid_name, cid_num, ..., extra;
# eventtime a timestamp, written in UTC with usegmtime = yes): dialplan/cel_pgsql.sql
_PG_COLUMNS = {
    "eventtype": "eventtype",
    "eventtime": "eventtime",
    "cidname": "cid_name",
    "cidnum": "cid_num",
    "cidani": "cid_ani",
    "cidrdnis": "cid_rdnis",
    "ciddnid": "cid_dnid",
    "context": "context",
    "exten": "exten",
    "channame": "channame",
    "appname": "appname",
    "appdata": "appdata",
    "amaflags": "amaflags",
    "accountcode": "accountcode",
    "uniqueid": "uniqueid",
    "linkedid": "linkedid",
    "userfield": "userfield",
    "peer": "peer",
    "userdeftype": "userdeftype",
    "eventextra": "extra",
}


def _load_pgsql_cel(url: str) -> None:
    """The recorded rows (the .cel.sqlite3.csv dump) in a cel_pgsql table."""
    schema = (Path(__file__).resolve().parents[1] / "dialplan" / "cel_pgsql.sql").read_text()
    engine = create_engine(normalise_url(url))
    with (LIVE_TRACES / f"{NAME}.cel.sqlite3.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    with engine.begin() as conn:
        conn.execute(text(schema))
        for row in rows:
            values = {_PG_COLUMNS[k]: v for k, v in row.items() if k in _PG_COLUMNS}
            values["eventtime"] = datetime(1970, 1, 1) + timedelta(seconds=float(row["eventtime"]))
            values["amaflags"] = int(row["amaflags"])
            names = ", ".join(values)
            marks = ", ".join(f":{k}" for k in values)
            conn.execute(text(f"INSERT INTO cel ({names}) VALUES ({marks})"), values)
    engine.dispose()


async def test_cel_store_in_postgresql(db_url: str) -> None:
    """cel_pgsql's table in PostgreSQL; callagent's own database SQLite or PostgreSQL."""
    server = require_postgres()
    name, cel_url = _pg_database(server)
    try:
        _load_pgsql_cel(cel_url)
        options = {"cel_url": cel_url, "cel_lookback_hours": FOREVER}
        async with running_service(db_url, **options) as service:
            await wait_for(lambda: service.monitor.reconciliations >= 1)
            (record,) = await _calls(service)
            check_rebuilt(record)
            (conn,) = service.pbx.connections
            conn.writer.close()
            await wait_for(lambda: service.monitor.reconciliations >= 2)
            assert await _calls(service) == [record]
    finally:
        _pg_drop(server, name)
