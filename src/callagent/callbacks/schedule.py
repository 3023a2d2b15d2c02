"""When a call-back may be dialled, and what an attempt's result does to it.

Pure: no IO, no clock (``now`` is passed in). A task is due inside the applicant's own
window (the one the website sent: a local time is read in the zone the number tells, as
campaigns read a registry's numbers, else the centre's) *and* the centre's call-back
hours (``CALLAGENT_CALLBACK_HOURS`` in ``CALLAGENT_TIMEZONE``: the operators must be
there). Busy and unanswered calls are tried again after the retry wait, up to the
attempts allowed; a task whose window passed before anyone reached the applicant is
overdue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from callagent.campaigns.window import CallingWindow, phone_zone

# How far ahead a window may start and how long it may last: a website form offers
# "today" or "tomorrow" and a few hours; a year-long window is a mistake or an attack.
MAX_AHEAD = timedelta(days=30)
MAX_LENGTH = timedelta(days=14)
MIN_LENGTH = timedelta(minutes=15)

# An attempt's result -> counted against the applicant's attempts?
# operator_no_answer / no_operator / refused: the applicant was never dialled; timeout:
# the operator's leg never reported (the Originate is never sent twice, and the
# applicant is dialled only after the operator answered, which would have reported).
NOT_COUNTED = frozenset({"operator_no_answer", "no_operator", "refused", "timeout"})
# Asterisk's DIALSTATUS of the applicant's leg (the Dial in the callback context).
_DIAL_STATUS = {
    "ANSWER": "answered",
    "BUSY": "busy",
    "NOANSWER": "no_answer",
    "CONGESTION": "congestion",
    "CHANUNAVAIL": "failed",
    "CANCEL": "failed",
}


class WindowProblem(ValueError):
    """The applicant's window cannot be used; ``code`` names why (for the ru/uk/en text)."""

    def __init__(self, code: str, field: str) -> None:
        super().__init__(f"{field}: {code}")
        self.code = code
        self.field = field


def applicant_zone(phone: str, centre: str) -> ZoneInfo:
    """The zone a naive window time of this number is read in (campaigns' rule)."""
    return phone_zone(phone, "", centre)


def aware(moment: datetime, zone: ZoneInfo) -> datetime:
    """``moment`` with its own offset kept, or read in ``zone`` when it has none; UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def check_window(window_from: datetime, window_to: datetime, now: datetime) -> None:
    """Refuse a window that ends before it starts, has passed, starts too far ahead, or is
    too short or too long (``WindowProblem``); both times aware."""
    if window_to <= window_from:
        raise WindowProblem("callback_window_order", "window_to")
    if window_to - window_from < MIN_LENGTH:
        raise WindowProblem("callback_window_short", "window_to")
    if window_to - window_from > MAX_LENGTH:
        raise WindowProblem("callback_window_long", "window_to")
    if window_to <= now + MIN_LENGTH:
        raise WindowProblem("callback_window_past", "window_to")
    if window_from > now + MAX_AHEAD:
        raise WindowProblem("callback_window_ahead", "window_from")


def next_due(
    *,
    window_from: datetime,
    window_to: datetime,
    not_before: datetime,
    hours: CallingWindow,
    centre: ZoneInfo,
) -> datetime | None:
    """The first moment from ``not_before`` inside both the applicant's window and the
    centre's hours; None when there is none before the window closes."""
    start = max(window_from, not_before)
    if start >= window_to:
        return None
    opens = hours.next_open(start, centre)
    if opens is None:
        return None
    opens = opens.astimezone(UTC)
    return opens if opens < window_to else None


def status_at(due_at: datetime | None, window_to: datetime, now: datetime) -> str:
    """waiting / due / overdue of an open task not on the line."""
    if due_at is None or window_to <= now:
        return "overdue"
    return "due" if due_at <= now else "waiting"


def applicant_result(*, operator_reached: bool, dial_status: str, timed_out: bool) -> str:
    """An operator-first attempt's result: the operator's leg first, then the applicant's.

    The operator not answering (or the Originate never answered) is not the applicant's
    attempt (``operator_no_answer``); once the operator answered, the Dial of the
    applicant says: answered, busy, no_answer, congestion, failed.
    """
    if not operator_reached:
        return "timeout" if timed_out else "operator_no_answer"
    return _DIAL_STATUS.get(dial_status, "failed")


@dataclass(frozen=True)
class Outcome:
    """What an attempt's result does to the task."""

    status: str
    due_at: datetime | None
    counted: bool


def after_attempt(
    *,
    result: str,
    attempts: int,
    max_attempts: int,
    retry_seconds: float,
    window_from: datetime,
    window_to: datetime,
    hours: CallingWindow,
    centre: ZoneInfo,
    now: datetime,
) -> Outcome:
    """The task after an attempt (``attempts`` counts it already when it is counted).

    answered: done. An attempt that never reached the applicant: due again at once (not
    counted). Busy, no answer and failures: again after ``retry_seconds`` inside the
    window and hours, failed when the attempts are used up, overdue when no moment
    is left in the window.
    """
    if result == "answered":
        return Outcome("done", None, True)
    if result in NOT_COUNTED:
        due = next_due(
            window_from=window_from, window_to=window_to, not_before=now, hours=hours, centre=centre
        )
        return Outcome(status_at(due, window_to, now), due, False)
    if attempts >= max_attempts:
        return Outcome("failed", None, True)
    due = next_due(
        window_from=window_from,
        window_to=window_to,
        not_before=now + timedelta(seconds=retry_seconds),
        hours=hours,
        centre=centre,
    )
    return Outcome(status_at(due, window_to, now), due, True)
