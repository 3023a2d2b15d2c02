"""A complaint's decision deadline, from the centre's rule (pure).

The rule is configuration (``CALLAGENT_COMPLAINT_DEADLINE``): ``"30 calendar days"``
(the law on citizens' appeals gives 30 days) or ``"10 working days"``, counted from the
day after registration in the centre's zone. Working days are Monday to Friday except
the holidays (``CALLAGENT_COMPLAINT_HOLIDAYS``, dates read as a campaign's holidays are,
by :class:`~callagent.campaigns.window.CallingWindow`). The deadline is the end of the
last day: the next local midnight, as an aware UTC time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from callagent.campaigns.window import CallingWindow, WindowError

_RULE = re.compile(r"^\s*(\d{1,3})\s+(calendar|working)\s+days?\s*$", re.IGNORECASE)
_WORK_WEEK = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
MAX_DAYS = 365


class RuleError(ValueError):
    """A deadline rule or holiday list that cannot be read; the message says what to write."""


@dataclass(frozen=True)
class DeadlineRule:
    """N calendar or working days."""

    days: int
    working: bool
    calendar: CallingWindow  # the work week and the holidays

    @classmethod
    def parse(cls, text: str, holidays: Iterable[str] = ()) -> DeadlineRule:
        """``"30 calendar days"`` / ``"10 working days"``; RuleError for anything else."""
        match = _RULE.match(text or "")
        if match is None:
            raise RuleError(
                f"{text!r} is not a deadline rule: write '<N> calendar days' or "
                "'<N> working days', e.g. '30 calendar days'"
            )
        days = int(match.group(1))
        if not 1 <= days <= MAX_DAYS:
            raise RuleError(f"{text!r}: the number of days must be 1 to {MAX_DAYS}")
        try:
            calendar = CallingWindow.parse(_WORK_WEEK, holidays)
        except WindowError as exc:
            raise RuleError(str(exc)) from None
        return cls(days, match.group(2).lower() == "working", calendar)

    def is_working_day(self, day: date) -> bool:
        """Monday to Friday and not a holiday."""
        return bool(self.calendar.days[day.weekday()]) and day not in self.calendar.holidays

    def last_day(self, registered: date) -> date:
        """The last day of the term for a complaint registered on ``registered`` (local)."""
        if not self.working:
            return registered + timedelta(days=self.days)
        day, left = registered, self.days
        while left:
            day += timedelta(days=1)
            if self.is_working_day(day):
                left -= 1
        return day

    def due(self, registered_at: datetime, zone: ZoneInfo) -> datetime:
        """The deadline: the end of the term's last day in ``zone`` (aware, UTC)."""
        last = self.last_day(registered_at.astimezone(zone).date())
        end = datetime.combine(last + timedelta(days=1), datetime.min.time(), zone)
        return end.astimezone(UTC)
