"""Attempt results from the recorded outbound traces; entry updates; pacing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callagent.ami.parser import AmiMessage, AmiParser
from callagent.campaigns.pacing import Pacer, TokenBucket
from callagent.campaigns.results import OutcomeBook, entry_update, result_of
from callagent.tracker.tracker import Tracker
from tests.conftest import trace_bytes

# trace -> (ActionID sent while recording, the dialled channel's uniqueid, result, digit)
RECORDED = {
    "outbound_notify_answered": ("notify-1", "1795353506.12", "answered", "1", 16),
    "outbound_notify_busy": ("notify-2", "1795353517.13", "busy", "", 17),
    "outbound_notify_no_answer": ("notify-3", "1795353529.17", "no_answer", "", 19),
    "outbound_notify_then_operator": ("notify-7", "1795354119.11", "answered", "2", 16),
}


def messages(trace: str) -> list[AmiMessage]:
    return [m for m in AmiParser().feed(trace_bytes(trace)) if isinstance(m, AmiMessage)]


@pytest.mark.parametrize("trace", sorted(RECORDED))
def test_recorded_outbound_traces_give_their_results(trace: str) -> None:
    action_id, uniqueid, result, digit, cause = RECORDED[trace]
    book = OutcomeBook()
    book.watch(action_id, uniqueid)
    settled = []
    for n, message in enumerate(messages(trace)):
        settled += book.feed(message, float(n))
    (item,) = settled
    assert (item.result, item.digit, item.cause) == (result, digit, cause)
    assert item.operator_answered == (trace == "outbound_notify_then_operator")
    # the tracker's record agrees on the dialled channel's cause
    tracker = Tracker()
    for message in messages(trace):
        tracker.feed("pbx1", message, 0.0)
    call = tracker.finished_call(("pbx1", uniqueid))
    assert call is not None and call.legs[uniqueid].cause == cause


def test_real_asterisk_reason_zero_is_read_from_the_hangup_cause() -> None:
    # Reason 0 and Uniqueid <unknown> for a 486 and for a 503 alike
    assert result_of(response="Failure", reason="0", cause=17, answered=False) == "busy"
    assert result_of(response="Failure", reason="0", cause=34, answered=False) == "congestion"
    assert result_of(response="Failure", reason="0", cause=21, answered=False) == "rejected"
    assert result_of(response="Failure", reason="0", cause=38, answered=False) == "failed"
    assert result_of(response="Failure", reason="3", cause=None, answered=False) == "no_answer"
    assert result_of(response="Failure", reason="0", cause=None, answered=False) == "failed"
    assert result_of(response="Success", reason="4", cause=16, answered=True) == "answered"


def test_a_failure_without_a_channel_settles_after_the_grace() -> None:
    book = OutcomeBook(failure_grace=2.0)
    book.watch("a1", "c1")
    response = AmiMessage(
        {"Event": "OriginateResponse", "ActionID": "a1", "Response": "Failure", "Reason": "0"}
    )
    (item,) = book.feed(response, 10.0)  # no Newchannel was ever seen: settled at once
    assert item.result == "failed"
    book.forget("a1")
    book.watch("a2", "c2")
    book.feed(AmiMessage({"Event": "Newchannel", "Uniqueid": "c2"}), 11.0)
    late = AmiMessage(
        {"Event": "OriginateResponse", "ActionID": "a2", "Response": "Failure", "Reason": "0"}
    )
    assert book.feed(late, 11.0) == []  # waits for the channel's Hangup
    assert book.expire(12.0) == []
    assert [i.action_id for i in book.expire(13.5)] == ["a2"]


NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
DELAYS = {"busy": 900, "no_answer": 1800, "failed": 1800, "congestion": 600}


def _update(result: str, digit: str = "", attempts: int = 1, **kw: object):  # type: ignore[no-untyped-def]
    values: dict[str, object] = {
        "result": result,
        "digit": digit,
        "operator_answered": False,
        "attempts": attempts,
        "max_attempts": 3,
        "retry_delays": DELAYS,
        "mode": "message",
        "now": NOW,
    }
    values.update(kw)
    return entry_update(**values)  # type: ignore[arg-type]


def test_entry_updates() -> None:
    assert _update("answered", "1").status == "notified"
    nine = _update("answered", "9")
    assert nine.status == "do_not_call" and nine.do_not_call
    assert _update("answered", "2", operator_answered=True).status == "notified"
    silent = _update("answered", "")
    assert (silent.status, silent.last_result) == ("pending", "answered_no_confirmation")
    assert silent.next_attempt_at == NOW + timedelta(seconds=1800)
    busy = _update("busy")
    assert (busy.status, busy.next_attempt_at) == ("pending", NOW + timedelta(seconds=900))
    assert _update("congestion").next_attempt_at == NOW + timedelta(seconds=600)
    assert _update("busy", attempts=3).status == "not_notified"
    assert _update("timeout").next_attempt_at == NOW + timedelta(seconds=1800)
    assert _update("answered", mode="operator").status == "in_progress"  # the wrap-up decides


def test_pacing_concurrency_rate_and_back_off() -> None:
    bucket = TokenBucket(rate=2.0, burst=1.0)
    assert bucket.wait(0.0) == 0.0
    bucket.take(0.0)
    assert bucket.wait(0.0) == pytest.approx(0.5)
    assert bucket.wait(0.5) == 0.0
    pacer = Pacer(max_concurrent=2, calls_per_second=100.0)
    pacer.started(0.0)
    pacer.started(0.0)
    assert pacer.delay(0.0) == float("inf")  # both slots busy
    pacer.refused(0.1)  # not an attempt: the slot is free again, but a pause starts
    assert pacer.in_flight == 1 and pacer.refusals == 1
    assert pacer.delay(0.1) == pytest.approx(1.0)
    pacer.started(1.2)
    pacer.refused(1.3)
    assert pacer.delay(1.3) == pytest.approx(2.0)  # doubled
    for _ in range(3):
        pacer.started(5.0)
        pacer.finished("congestion", 5.0)
    assert pacer.delay(5.0) == pytest.approx(4.0)  # three congestions in a row: pause again
    pacer.started(10.0)
    pacer.finished("busy", 10.0)  # the trunk works: the next pause starts small again
    pacer.refused(10.0)
    assert pacer.delay(10.0) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        Pacer(max_concurrent=0, calls_per_second=1.0)


def _with_amd(status: str) -> list[AmiMessage]:
    """The recorded answered call as it goes when AMD() answers ``status`` first.

    The AMDSTATUS VarSet is the trace's own VarSet of the dialled channel with the
    variable changed (Asterisk's shape); a machine gets no message, so neither the
    digit's VarSet nor the result UserEvent of the notify script happen.
    """
    uniqueid = RECORDED["outbound_notify_answered"][1]
    out: list[AmiMessage] = []
    amd_added = False
    for message in messages("outbound_notify_answered"):
        h = message.headers
        if status == "MACHINE" and (
            (h.get("Event") == "VarSet" and h.get("Variable") in ("NOTIFY_DIGIT",))
            or h.get("UserEvent") == "CallagentNotifyResult"
        ):
            continue
        out.append(message)
        if not amd_added and h.get("Event") == "VarSet" and h.get("Uniqueid") == uniqueid:
            out.append(AmiMessage({**h, "Variable": "AMDSTATUS", "Value": status}))
            amd_added = True
    assert amd_added
    return out


@pytest.mark.parametrize(
    ("status", "result", "digit"),
    [
        ("MACHINE", "answering_machine", ""),
        ("HUMAN", "answered", "1"),
        ("NOTSURE", "answered", "1"),
    ],
)
def test_an_answering_machine_is_its_own_result(status: str, result: str, digit: str) -> None:
    action_id, uniqueid, *_ = RECORDED["outbound_notify_answered"]
    book = OutcomeBook()
    book.watch(action_id, uniqueid)
    settled = []
    for n, message in enumerate(_with_amd(status)):
        settled += book.feed(message, float(n))
    (item,) = settled
    assert (item.result, item.digit) == (result, digit)


def test_the_result_event_of_the_machine_branch_is_enough() -> None:
    book = OutcomeBook()
    item = book.watch("a1", "c1")
    event = {"Event": "UserEvent", "UserEvent": "CallagentNotifyResult", "Uniqueid": "c1"}
    book.feed(AmiMessage({**event, "Amd": "MACHINE"}), 1.0)
    assert item.result == "answering_machine"


def test_an_answering_machine_is_retried_after_its_own_delay() -> None:
    delays = {**DELAYS, "answering_machine": 3600}
    machine = _update("answering_machine", retry_delays=delays)
    assert (machine.status, machine.last_result) == ("pending", "answering_machine")
    assert machine.next_attempt_at == NOW + timedelta(seconds=3600)
    assert _update("answering_machine", attempts=3, retry_delays=delays).status == "not_notified"
