"""A call already going when callagent (re)connects: the resync gets its times right.

``live_restart_midcall_started_while_down``: the call began while callagent was
stopped (the fallback queue answered it) and callagent came back 5 s into the talk.
On the old code its record had start = answer = the resync time, talk 12.8 s instead
of 19.5 s, no queue, no recording, no variables, and op1001 stayed ``ready`` during
the call. The resync now takes the channels' age, bridge and application from
``CoreShowChannel``, the variables from ``Status``, and the real moments from the CEL
store when there is one; the operator is on the call. ``live_restart_midcall`` and
``..._sigkill`` (callagent saw those calls begin) must stay as right as they were.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy import update as sa_update

from callagent.ami.parser import AmiMessage
from callagent.db.models import Call
from callagent.db.session import normalise_url
from callagent.reconcile.cel import interpret, restore_from_cel
from callagent.reconcile.channel_vars import parse_variables
from callagent.reconcile.source import CelSource
from callagent.sim.ami_server import AmiServer, ServerConnection, frame
from callagent.tracker.events import CallAnswered, CallEnded, DomainEvent
from callagent.tracker.records import CallRecord, build_record
from callagent.tracker.state import state_from_json, state_to_json
from callagent.tracker.tracker import Tracker
from tests.conftest import LIVE_TRACES, running_service, wait_for
from tests.resync_traces import after, at, before, cel_store_from_ami, listing_at, messages
from tests.test_live_feature_codes import settle
from tests.test_live_replay import play
from tests.test_reconcile_cel import FOREVER
from tests.test_routing import add_operators, set_ready

DOWN = "live_restart_midcall_started_while_down"
DOWN_RESYNC = at("19:04:23.037334")  # the record's started_at: when its resync ran
TRUNKS = ("PJSIP/trunk", "PJSIP/trunk-dead")


def _feed(tracker: Tracker, data: bytes) -> list[DomainEvent]:
    out: list[DomainEvent] = []
    for message in messages(data):
        out += tracker.feed("pbx1", message, 0.0)
    return out


def _resync(tracker: Tracker, name: str, moment: float) -> list[DomainEvent]:
    listing = [AmiMessage({"Event": "CoreShowChannel", **c}) for c in listing_at(name, moment)]
    return tracker.resync("pbx1", listing, moment, asked_at_seq=tracker.events_seen)


def _recorded(name: str) -> dict[str, Any]:
    data = json.loads((LIVE_TRACES / f"{name}.record.json").read_text())
    return data["items"][0]  # type: ignore[no-any-return]


def _epoch(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def test_listing_alone_dates_the_call_and_puts_the_operator_on_it() -> None:
    """No CEL store: the channels' Duration (whole seconds) and bridge say enough."""
    tracker = Tracker(trunk_endpoints=TRUNKS)
    events = _resync(tracker, DOWN, DOWN_RESYNC)
    assert CallAnswered(("pbx1", "1796324654.6"), "PJSIP/op1001") in events
    events += _feed(tracker, after(DOWN, DOWN_RESYNC))
    ended = [e for e in events if isinstance(e, CallEnded)]
    assert ended == [CallEnded(("pbx1", "1796324654.6"), ("PJSIP/op1001",))]
    record = build_record(tracker.finished_call(("pbx1", "1796324654.6")))  # type: ignore[arg-type]
    # Asterisk: created 19:04:14.80, op1001 answered 19:04:16.32, hung up 19:04:35.82
    assert record.started_at == pytest.approx(at("19:04:14.80"), abs=1.0)
    assert record.answered_at == pytest.approx(at("19:04:16.32"), abs=1.0)
    assert record.talk_seconds == pytest.approx(19.5, abs=1.0)  # old code: 12.78
    assert record.ended_at == pytest.approx(at("19:04:35.816"), abs=0.01)
    assert record.queue_name == "support"
    assert record.operator_endpoint == "PJSIP/op1001"
    assert record.disposition == "answered" and record.hangup_by == "applicant"
    assert [(a.endpoint, a.via, a.outcome) for a in record.attempts] == [
        ("PJSIP/op1001", "queue", "answered")
    ]
    assert record.partial  # the start itself was not seen


def test_cel_store_gives_the_real_moments(tmp_path: Path) -> None:
    store = cel_store_from_ami(DOWN, DOWN_RESYNC, tmp_path / "cel.db")
    tracker = Tracker(trunk_endpoints=TRUNKS)
    _resync(tracker, DOWN, DOWN_RESYNC)
    call = tracker.calls[("pbx1", "1796324654.6")]
    source = CelSource(f"sqlite:///{store}")
    (rows,) = source.rows_for(["1796324654.6"]).values()
    cel = interpret("pbx1", "1796324654.6", rows, tracker.classify)
    assert cel is not None and not cel.final  # the call was still going
    assert restore_from_cel(call, cel)
    _feed(tracker, after(DOWN, DOWN_RESYNC))
    record = build_record(tracker.finished_call(("pbx1", "1796324654.6")))  # type: ignore[arg-type]
    _check_real_moments(record.to_dict(), epoch=True)
    assert not record.partial and record.reconstructed
    source.dispose()


def _check_real_moments(record: dict[str, Any], *, epoch: bool) -> None:
    def moment(name: str) -> float:
        value = record[name]
        return float(value) if epoch else _epoch(value)

    # the CEL rows are the AMI CEL events of the recording: ~3 ms after the backend's time
    assert moment("started_at") == pytest.approx(at("19:04:14.80"), abs=0.01)
    assert moment("queue_entered_at") == pytest.approx(at("19:04:15.31"), abs=0.01)
    assert moment("first_ring_at") == pytest.approx(at("19:04:15.31"), abs=0.01)
    assert moment("answered_at") == pytest.approx(at("19:04:16.32"), abs=0.01)
    assert record["talk_seconds"] == pytest.approx(19.5, abs=0.01)
    assert record["wait_seconds"] == pytest.approx(1.51, abs=0.01)
    assert record["queue_name"] == "support"
    assert record["operator_endpoint"] == "PJSIP/op1001"
    assert record["hangup_by"] == "applicant"


@pytest.mark.parametrize(
    ("name", "stopped", "resynced"),
    [
        ("live_restart_midcall", "19:02:56.06", "19:03:02.34"),
        ("live_restart_midcall_sigkill", "19:03:32.2", "19:03:38.4"),
    ],
)
def test_calls_seen_from_their_start_stay_right(name: str, stopped: str, resynced: str) -> None:
    """callagent saw the start, stopped, and carried on from its saved state."""
    first = Tracker(trunk_endpoints=TRUNKS)
    _feed(first, before(name, at(stopped)))
    (saved,) = [state_to_json(c) for c in first.active_calls()]
    tracker = Tracker(trunk_endpoints=TRUNKS)
    tracker.restore(state_from_json(json.loads(json.dumps(saved))))
    events = _resync(tracker, name, at(resynced))
    assert not [e for e in events if isinstance(e, CallAnswered)]  # nothing new to say
    _feed(tracker, after(name, at(resynced)))
    (key,) = list(tracker._finished)
    record: CallRecord = build_record(tracker.finished_call(key))  # type: ignore[arg-type]
    want = _recorded(name)
    for field in ("started_at", "first_ring_at", "answered_at", "ended_at"):
        assert getattr(record, field) == pytest.approx(_epoch(want[field]), abs=0.001), field
    assert record.talk_seconds == want["talk_seconds"]
    assert record.recording_file == want["recording_file"]
    assert record.variables == want["variables"]
    assert not record.partial and not record.reconstructed


class _StatusPbx(AmiServer):
    """The simulator, answering ``Status`` (AllVariables) with a channel's variables.

    The variables are the recorded ``VarSet`` values of that channel before the cut:
    what Asterisk held on it when callagent asked.
    """

    def __init__(self, variables: dict[str, dict[str, str]]) -> None:
        super().__init__()
        self.variables = variables

    async def _answer(self, conn: ServerConnection, action: AmiMessage) -> None:
        if action.action.lower() != "status":
            await super()._answer(conn, action)
            return
        aid = ("ActionID", action.action_id)
        channel = action.get("Channel")
        listed = [c for c in self.live_channels if c["Channel"] == channel]
        out = [
            frame(
                ("Response", "Success"),
                aid,
                ("EventList", "start"),
                ("Message", "Channel status will follow"),
            )
        ]
        for item in listed:
            pairs = [(k, item[k]) for k in ("Channel", "Uniqueid", "Linkedid", "Context")]
            pairs += [("Variable", f"{k}={v}") for k, v in self.variables.get(channel, {}).items()]
            out.append(frame(("Event", "Status"), aid, *pairs))
        out.append(
            frame(
                ("Event", "StatusComplete"),
                aid,
                ("EventList", "Complete"),
                ("ListItems", str(len(listed))),
                ("Items", str(len(listed))),
            )
        )
        conn.writer.write(b"".join(out))
        await conn.writer.drain()


def _variables_at(name: str, cut: float) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for m in messages(before(name, cut)):
        if m.event == "VarSet":
            out.setdefault(m.get("Channel"), {})[m.get("Variable")] = m.get("Value")
    return out


def test_status_variables_are_parsed_one_or_many() -> None:
    assert parse_variables({"Variable": "A=1"}) == {"A": "1"}
    assert parse_variables({"Variable": ["A=1", "B=x=y", "junk"]}) == {"A": "1", "B": "x=y"}
    assert parse_variables({}) == {}


async def test_restart_while_a_call_started_while_down_is_going(
    db_url: str, tmp_path: Path
) -> None:
    """The whole service: callagent comes back 5 s into the talk (SQLite, PostgreSQL)."""
    cel = cel_store_from_ami(DOWN, DOWN_RESYNC, tmp_path / "cel.db")
    async with running_service(db_url) as service:  # callagent before it was stopped
        (op,) = add_operators(service, 1)
        await set_ready(service, [op])
    pbx = _StatusPbx(_variables_at(DOWN, DOWN_RESYNC))
    pbx.live_channels = listing_at(DOWN, DOWN_RESYNC)
    await pbx.start()
    try:
        async with running_service(
            db_url, pbx=pbx, cel_url=f"sqlite:///{cel}", trunk_endpoints=list(TRUNKS)
        ) as service:
            await wait_for(lambda: service.monitor.reconciliations >= 1)
            await settle(service)
            history = (await service.client.get(f"/api/v1/operators/{op}/state-history")).json()
            # old code: still ready during the call, so routing could offer them another
            assert history[0]["to_state"] == "on_call"
            assert history[0]["call"] == "pbx1:1796324654.6"
            await play(service, after(DOWN, DOWN_RESYNC))
            await settle(service)
            page = (await service.client.get("/api/v1/calls")).json()
            assert page["total"] == 1
            record = page["items"][0]
            _check_real_moments(record, epoch=False)
            assert record["recording_file"] == "/var/spool/asterisk/monitor/1796324654.6.wav"
            assert record["variables"]["CALLAGENT_RECORDING"] == "1796324654.6.wav"
            assert record["variables"]["CALLAGENT_DID"] == "4951112233"
            assert record["partial"] is False and record["reconstructed"] is True
            assert record["operator_login"] == "op1001"
            history = (await service.client.get(f"/api/v1/operators/{op}/state-history")).json()
            moves = [(h["from_state"], h["to_state"], h["call"]) for h in history][::-1]
            assert moves[-2:] == [
                ("ready", "on_call", "pbx1:1796324654.6"),
                ("on_call", "wrap_up", "pbx1:1796324654.6"),
            ]
    finally:
        await pbx.stop()


async def test_a_call_that_ended_while_callagent_was_away_gets_its_real_end(
    db_url: str, tmp_path: Path
) -> None:
    """``live_restart_midcall`` with callagent back later than it was: stopped 5 s into
    the talk (19:02:56.06), started again at 19:03:20, after the caller hung up at
    19:03:10.50. The resync finds no channel and closes the call at the last moment
    callagent had heard of it (the answer: talk ~0 s); the CEL store (its AMI CEL
    events up to 19:03:20) has the real end."""
    name, stopped, back = "live_restart_midcall", at("19:02:56.06"), at("19:03:20")
    cel = cel_store_from_ami(name, back, tmp_path / "cel.db")
    async with running_service(db_url, trunk_endpoints=list(TRUNKS)) as service:
        await play(service, before(name, stopped))
        await settle(service)
        engine = create_engine(normalise_url(db_url))
        with engine.begin() as conn:  # written when it happened, not when the test ran
            conn.execute(sa_update(Call).values(updated_at=datetime.fromtimestamp(stopped, UTC)))
        engine.dispose()
    # the recording's gap is as old as the recording (it failed a day after it was made)
    options = {
        "cel_url": f"sqlite:///{cel}",
        "trunk_endpoints": list(TRUNKS),
        "cel_lookback_hours": FOREVER,
    }
    async with running_service(db_url, **options) as service:
        await wait_for(lambda: service.monitor.reconciliations >= 1)
        (record,) = (await service.client.get("/api/v1/calls")).json()["items"]
    want = _recorded(name)
    for field in ("started_at", "first_ring_at", "answered_at"):
        assert _epoch(record[field]) == pytest.approx(_epoch(want[field]), abs=0.001), field
    # LINKEDID_END as its AMI CEL event was stamped, 19 ms after the Hangup (the CEL
    # backend's own eventtime is the hang-up's: the recorded .cel.sqlite3)
    assert _epoch(record["ended_at"]) == pytest.approx(_epoch(want["ended_at"]), abs=0.05)
    assert record["talk_seconds"] == pytest.approx(want["talk_seconds"], abs=0.05)
    assert record["hangup_by"] == "applicant" and record["hangup_cause"] == 16
    assert record["recording_file"] == want["recording_file"]
    assert record["variables"] == want["variables"]  # what callagent saw stays
    assert record["closed_by_resync"] is True and record["reconstructed"] is True
