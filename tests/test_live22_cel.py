"""CEL reconciliation against what a real Asterisk 22.10.1 wrote with the shipped
``cel_sqlite3_custom.conf`` (``[master]`` -> ``master.db``; ``tests/fixtures/live22``).

- ``live22_call_while_down_cel``: a call answered by the fallback queue while callagent was
  stopped is rebuilt as on the PBX (callagent's answer after its restart).
- ``live22_star53_no_digit``: an operator's ``*53`` is not a contact; rebuilt from CEL it
  was stored as an internal ``no_answer`` call to ``*53`` (the restart after it did so).
- ``live22_held_callagent_stops``: a held caller whom callagent left (SIGTERM) went to the
  fallback queue, waited 60 s and heard the overflow message; the resync closed the call
  at callagent's last event, and CEL gave the end but (before ``b103ae7``) kept the wait
  up to that last event (2.5 s, not the 64 s the caller waited) and made the dialplan's
  ``Hangup()`` (hangupsource ``dialplan/builtin``) an operator's.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy import update as sa_update

from callagent.db.models import Call
from callagent.db.session import normalise_url
from callagent.reconcile.cel import interpret
from callagent.reconcile.source import CelSource
from callagent.sim.ami_server import trace_body
from callagent.tracker.tracker import Tracker
from tests.conftest import running_service, wait_for
from tests.resync_traces import frames
from tests.test_live22_held import COMPARED, LIVE22, TRUNKS, recorded
from tests.test_live_feature_codes import settle
from tests.test_live_replay import play

FOREVER = 24 * 365 * 100.0  # hours: the recording's day is always inside the lookback


def cel_copy(name: str, tmp_path: Path) -> Path:
    """The recorded CEL file, copied: the tests never touch the fixture."""
    return Path(shutil.copy(LIVE22 / f"{name}.master.db", tmp_path / "master.db"))


def _options(cel: Path) -> dict[str, Any]:
    return {"cel_url": f"sqlite:///{cel}", "cel_lookback_hours": FOREVER, "trunk_endpoints": TRUNKS}


async def _records(service: Any) -> list[dict[str, Any]]:
    return list((await service.client.get("/api/v1/calls")).json()["items"])


def test_the_shipped_section_wrote_the_columns_callagent_reads() -> None:
    with sqlite3.connect(LIVE22 / "live22_call_while_down_cel.master.db") as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(cel)")]
    for needed in ("eventtype", "eventtime", "channame", "uniqueid", "linkedid", "eventextra"):
        assert needed in columns


async def test_a_call_while_callagent_was_down_is_rebuilt_as_on_the_pbx(
    db_url: str, tmp_path: Path
) -> None:
    cel = cel_copy("live22_call_while_down_cel", tmp_path)
    async with running_service(db_url, **_options(cel)) as service:
        await wait_for(lambda: service.monitor.reconciliations >= 1)
        (record,) = await _records(service)
    want = recorded("live22_call_while_down_cel", "record_after_restart")
    same = [k for k in COMPARED if k != "operator_login"]  # no users in this database
    assert {k: record[k] for k in same} == {k: want[k] for k in same}
    assert record["reconstructed"] is True and record["queue_name"] == "support"


def test_a_feature_code_in_cel_is_not_a_contact() -> None:
    cel = LIVE22 / "live22_star53_no_digit.master.db"
    source = CelSource(f"sqlite:///{cel}")
    try:
        ((linkedid, rows),) = source.rows_since(0.0).items()
    finally:
        source.dispose()
    state = interpret("pbx1", linkedid, rows, Tracker(trunk_endpoints=TRUNKS).classify)
    assert state is not None and state.final
    assert state.contact is False


async def test_a_feature_code_missed_by_callagent_is_not_stored(
    db_url: str, tmp_path: Path
) -> None:
    cel = cel_copy("live22_star53_no_digit", tmp_path)
    async with running_service(db_url, **_options(cel)) as service:
        await wait_for(lambda: service.monitor.reconciliations >= 1)
        assert await _records(service) == []  # was: a reconstructed no_answer call to *53


def _before(name: str, cut: float) -> bytes:
    """The recorded frames stamped before ``cut`` (unstamped ones too)."""
    out = []
    for f in frames(trace_body((LIVE22 / f"{name}.ami").read_bytes())):
        stamp = re.search(rb"\r\nTimestamp: ([0-9.]+)\r\n", b"\r\n" + f)
        if stamp is None or float(stamp.group(1)) < cut:
            out.append(f)
    return b"".join(out)


async def test_a_held_caller_left_to_the_overflow_gets_the_real_wait_and_no_culprit(
    db_url: str, tmp_path: Path
) -> None:
    name = "live22_held_callagent_stops"
    # callagent's AMI link closed at 04:36:48.814 (SIGTERM at 48.605): the queue entry
    # (48.808) was the last event it saw
    stopped = 1796359008.814
    cel = cel_copy(name, tmp_path)
    async with running_service(db_url, trunk_endpoints=TRUNKS) as service:
        await play(service, _before(name, stopped))
        await settle(service)
        engine = create_engine(normalise_url(db_url))
        with engine.begin() as conn:  # written when it happened, not when the test ran
            conn.execute(sa_update(Call).values(updated_at=datetime.fromtimestamp(stopped, UTC)))
        engine.dispose()
    async with running_service(db_url, **_options(cel)) as service:
        await wait_for(lambda: service.monitor.reconciliations >= 1)
        (record,) = await _records(service)
    want = json.loads((LIVE22 / f"{name}.record_after_restart.json").read_text("utf-8"))
    assert record["ended_at"] == want["ended_at"]  # CEL's end, as on the PBX
    assert record["closed_by_resync"] is True and record["reconstructed"] is True
    assert record["disposition"] == "no_answer" and record["queue_name"] == "support"
    # 04:36:46.122 to 04:37:50.559: music, 60 s in the queue, the overflow message
    # (callagent before b103ae7: 2.5 s, up to the last event it saw, and `operator`
    # although nobody ever answered)
    assert record["wait_seconds"] == pytest.approx(64.437, abs=0.001)
    assert record["hangup_by"] == "system"
    # what callagent answered on the PBX after its restart
    assert {k: record[k] for k in COMPARED} == {k: want[k] for k in COMPARED}
