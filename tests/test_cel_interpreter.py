"""The pure CEL interpreter on the recorded rows, and on rows derived from them.

The recording (``live_call_while_callagent_down_with_cel.cel.sqlite3``) is one answered
queue call, written with the harness's cel.conf (apps: AGI, Queue). The derived cases
change it the way the shipped ``dialplan/cel.conf`` or another outcome would, and say
which rows they change.
"""

from __future__ import annotations

import dataclasses
import sqlite3

import pytest

from callagent.reconcile.cel import CelRow, interpret, is_complete, parse_eventtime, parse_extra
from callagent.tracker.records import build_record
from callagent.tracker.tracker import Tracker
from tests.conftest import LIVE_TRACES

LINKEDID = "1796324539.0"


def recorded_rows() -> list[CelRow]:
    path = LIVE_TRACES / "live_call_while_callagent_down_with_cel.cel.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        return [
            CelRow(
                eventtype=r["eventtype"],
                eventtime=float(r["eventtime"]),
                channel=r["channame"],
                uniqueid=r["uniqueid"],
                linkedid=r["linkedid"],
                cid_num=r["cidnum"],
                cid_name=r["cidname"],
                exten=r["exten"],
                context=r["context"],
                appname=r["appname"],
                appdata=r["appdata"],
                peer=r["peer"],
                extra=parse_extra(r["eventextra"]),
                seq=r["AcctId"],
            )
            for r in conn.execute("SELECT * FROM cel ORDER BY AcctId")
        ]


def _record(rows: list[CelRow]):  # type: ignore[no-untyped-def]
    state = interpret("pbx1", LINKEDID, rows, Tracker().classify)
    assert state is not None
    return build_record(state)


def test_the_same_rows_give_the_same_record_in_any_order() -> None:
    rows = recorded_rows()
    assert _record(rows) == _record(rows[::-1])
    assert is_complete(rows)
    assert not is_complete([r for r in rows if r.eventtype not in ("LINKEDID_END", "CHAN_END")])


def test_recording_from_mixmonitor_as_the_shipped_cel_conf_tracks_it() -> None:
    """The shipped cel.conf tracks MixMonitor: an APP_START with the dialplan's
    ``MixMonitor(${UNIQUEID}.wav,b)`` data, between the ANSWER and the AGI rows."""
    rows = recorded_rows()
    answer = next(r for r in rows if r.eventtype == "ANSWER")
    mixmonitor = dataclasses.replace(
        answer,
        eventtype="APP_START",
        eventtime=answer.eventtime + 0.5,
        appname="MixMonitor",
        appdata=f"{LINKEDID}.wav,b",
        seq=2,
    )
    record = _record([*rows, mixmonitor])
    assert record.recording_file == f"/var/spool/asterisk/monitor/{LINKEDID}.wav"
    assert _record(rows).recording_file == ""  # the harness's cel.conf did not track it


def test_a_caller_who_hangs_up_in_the_queue_is_abandoned() -> None:
    """The recorded rows up to the operator's ringing; the caller hangs up 1 s later
    (HANGUP cause 0 from the trunk, as Asterisk reports an abandoned caller)."""
    rows = [r for r in recorded_rows() if r.seq <= 7]  # to op1001's CHAN_START
    trunk = rows[0]
    op = rows[6]
    end = rows[6].eventtime + 1.0
    rows += [
        dataclasses.replace(
            op,
            eventtype="HANGUP",
            eventtime=end,
            extra={"hangupcause": 0, "hangupsource": trunk.channel, "dialstatus": ""},
            seq=8,
        ),
        dataclasses.replace(op, eventtype="CHAN_END", eventtime=end, seq=9),
        dataclasses.replace(
            trunk,
            eventtype="HANGUP",
            eventtime=end,
            extra={"hangupcause": 0, "hangupsource": trunk.channel, "dialstatus": ""},
            seq=10,
        ),
        dataclasses.replace(trunk, eventtype="CHAN_END", eventtime=end, seq=11),
        dataclasses.replace(trunk, eventtype="LINKEDID_END", eventtime=end, seq=12),
    ]
    record = _record(rows)
    assert record.disposition == "abandoned"
    assert record.hangup_by == "applicant"
    assert record.answered_at is None and record.operator_endpoint is None
    assert record.queue_name == "support"
    assert [(a.endpoint, a.outcome) for a in record.attempts] == [("PJSIP/op1001", "caller_gone")]
    assert record.wait_seconds == pytest.approx(end - trunk.eventtime, abs=0.001)


@pytest.mark.parametrize(
    ("value", "epoch"),
    [
        ("1796324539.809804", 1796324539.809804),  # cel.conf's default dateformat
        (1796324539.5, 1796324539.5),
        ("2026-12-03 19:02:19", 1796324539.0),  # dateformat = %F %T, UTC
        ("", None),
        (None, None),
    ],
)
def test_eventtime_in_every_stored_form(value: object, epoch: float | None) -> None:
    assert parse_eventtime(value) == epoch
