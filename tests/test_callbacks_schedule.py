"""When a call-back is due, retried, overdue (pure: callbacks/schedule.py) and the KPI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from callagent.callbacks.schedule import (
    after_attempt,
    applicant_result,
    applicant_zone,
    next_due,
    status_at,
)
from callagent.callbacks.service import time_to_callback
from callagent.campaigns.window import CallingWindow

MSK = ZoneInfo("Europe/Moscow")
# the centre works Mon-Fri 08:00-20:00 Moscow time; 2026-12-07 is a Monday
HOURS = CallingWindow.parse({d: [["08:00", "20:00"]] for d in ("mon", "tue", "wed", "thu", "fri")})


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def due(start: datetime, end: datetime, not_before: datetime) -> datetime | None:
    return next_due(
        window_from=start, window_to=end, not_before=not_before, hours=HOURS, centre=MSK
    )


def test_due_inside_the_applicants_window_and_the_centres_hours() -> None:
    # window Mon 03:00-10:00 UTC (06:00-13:00 Moscow): the centre opens at 08:00 = 05:00 UTC
    assert due(utc(7, 3), utc(7, 10), utc(7, 2)) == utc(7, 5)
    # asked at 06:30 UTC, inside both: now
    assert due(utc(7, 3), utc(7, 10), utc(7, 6, 30)) == utc(7, 6, 30)
    # a window Saturday (the centre is closed) and Sunday: never
    assert due(utc(12, 6), utc(13, 20), utc(12, 6)) is None
    # a window that opens Friday evening after hours and runs into Monday morning
    assert due(utc(11, 17, 30), utc(14, 6), utc(11, 17, 30)) == utc(14, 5)
    # a window whose end is before the centre opens: never
    assert due(utc(7, 1), utc(7, 4, 59), utc(7, 1)) is None


def test_a_novosibirsk_landline_is_read_in_its_own_zone() -> None:
    assert applicant_zone("+73832000000", "Europe/Moscow") == ZoneInfo("Asia/Novosibirsk")
    # Russian mobiles span the country: the centre's zone
    assert applicant_zone("+79161234567", "Europe/Moscow") == MSK


def test_status_of_an_open_task() -> None:
    now = utc(7, 6)
    assert status_at(utc(7, 7), utc(7, 10), now) == "waiting"
    assert status_at(utc(7, 6), utc(7, 10), now) == "due"
    assert status_at(utc(7, 5), utc(7, 6), now) == "overdue"  # the window passed
    assert status_at(None, utc(7, 10), now) == "overdue"  # no moment left in it


def _after(result: str, attempts: int, now: datetime, end: datetime | None = None):  # type: ignore[no-untyped-def]
    return after_attempt(
        result=result,
        attempts=attempts,
        max_attempts=3,
        retry_seconds=900,
        window_from=utc(7, 5),
        window_to=end or utc(7, 12),
        hours=HOURS,
        centre=MSK,
        now=now,
    )


def test_retries_per_policy_then_failed_or_overdue() -> None:
    now = utc(7, 6)
    assert _after("answered", 1, now).status == "done"
    busy = _after("busy", 1, now)
    assert (busy.status, busy.due_at, busy.counted) == (
        "waiting",
        now + timedelta(minutes=15),
        True,
    )
    assert _after("no_answer", 2, now).due_at == now + timedelta(minutes=15)
    assert (_after("no_answer", 3, now).status, _after("no_answer", 3, now).due_at) == (
        "failed",
        None,
    )
    # the retry would fall after the window: overdue, not failed
    late = _after("busy", 1, now, end=now + timedelta(minutes=10))
    assert (late.status, late.due_at) == ("overdue", None)
    # the operator did not answer: the applicant was never dialled, due again now
    missed = _after("operator_no_answer", 0, now)
    assert (missed.status, missed.due_at, missed.counted) == ("due", now, False)


@pytest.mark.parametrize(
    ("reached", "dial", "timed_out", "result"),
    [
        (True, "ANSWER", False, "answered"),
        (True, "BUSY", False, "busy"),
        (True, "NOANSWER", False, "no_answer"),
        (True, "CONGESTION", False, "congestion"),
        (True, "", False, "failed"),
        (False, "", False, "operator_no_answer"),
        (False, "", True, "timeout"),
    ],
)
def test_the_operator_first_result(reached: bool, dial: str, timed_out: bool, result: str) -> None:
    assert applicant_result(operator_reached=reached, dial_status=dial, timed_out=timed_out) == (
        result
    )


def test_time_from_request_to_call_back() -> None:
    kpi = time_to_callback(
        [60.0, 120.0, 600.0, 30.0], ["done", "done", "done", "done", "failed", "overdue", "due"]
    )
    assert (kpi.requested, kpi.reached, kpi.failed, kpi.overdue, kpi.open) == (7, 4, 1, 1, 1)
    assert (kpi.mean_seconds, kpi.median_seconds, kpi.p90_seconds) == (202.5, 90.0, 600.0)
    empty = time_to_callback([], [])
    assert (empty.requested, empty.mean_seconds, empty.p90_seconds) == (0, None, None)
