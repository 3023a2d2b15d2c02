"""What the centre did besides answering: repeat callers, wrap-ups, notification results,
and the intraday profile. Pure, like the KPI engine; the formulas (also in the README
and the API's descriptions):

- ``repeat_24h`` / ``repeat_7d``: offered calls whose caller number had offered an
  inbound call in the 24 hours / 7 days before (a first-contact-resolution proxy: the
  earlier call did not settle it). Calls without a caller number are never repeats.
- ``wrapups_missed``: wrap-ups whose deadline passed without a submit (still missed);
  ``wrapups_late``: wrap-ups submitted after their deadline; both counted where the
  wrap-up began.
- ``wrapup_categories``: submitted wrap-ups per category (consultations,
  pre-registrations, ...); ``wrapup_services``: the same per category and the service the
  form names (its ``service`` field: consultations by topic).
- ``notifications``: campaign call attempts that ended, per result (answered, busy,
  no_answer, ...), counted where the attempt began.
- the intraday profile: offered calls per hour of the day on the centre's clock, summed
  over the period and divided by its number of days (a daylight-saving day's repeated
  hour adds to the same hour).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:  # the KPI engine imports this module
    from callagent.reports.kpi import CallFact

REPEAT_WINDOWS = {"repeat_24h": timedelta(hours=24), "repeat_7d": timedelta(days=7)}


def with_repeats(
    facts: Sequence[CallFact], earlier: Iterable[tuple[str, datetime]]
) -> list[CallFact]:
    """``facts`` with their repeat flags set: ``earlier`` are (caller, offered at) of the
    inbound calls of the 7 days before the period (the period's own calls are added)."""
    times: dict[str, list[datetime]] = {}
    for caller, at in [*earlier, *((f.caller, f.offered_at) for f in facts)]:
        if caller:
            times.setdefault(caller, []).append(at)
    for mine in times.values():
        mine.sort()
    marked: list[CallFact] = []
    for fact in facts:
        before = times.get(fact.caller, []) if fact.caller else []
        i = bisect.bisect_left(before, fact.offered_at)  # the calls strictly before it
        last = before[i - 1] if i else None
        if last is None or fact.offered_at - last > timedelta(days=7):
            # not a repeat: the fact as it is, unless it says otherwise (a copy per call
            # was a good part of reading a year)
            if fact.repeat_24h or fact.repeat_7d:
                fact = replace(fact, repeat_24h=False, repeat_7d=False)
            marked.append(fact)
            continue
        marked.append(
            replace(
                fact,
                repeat_24h=fact.offered_at - last <= timedelta(hours=24),
                repeat_7d=True,
            )
        )
    return marked


@dataclass(frozen=True)
class WrapupFact:
    """One operator's wrap-up of one call."""

    operator: str  # login
    started_at: datetime
    status: str  # pending, missed, submitted
    category: str | None
    passed_deadline: bool  # its deadline passed before a submit (missed_at is set)
    service: str = ""  # the form's ``service`` field: what the call was about


@dataclass(frozen=True)
class AttemptFact:
    """One notification call attempt of a campaign."""

    campaign: str
    started_at: datetime
    result: str  # '' while in flight


@dataclass
class Activity:
    """The wrap-up and notification figures of one group."""

    wrapups_missed: int = 0
    wrapups_late: int = 0
    wrapup_categories: dict[str, int] = field(default_factory=dict)
    wrapup_services: dict[str, dict[str, int]] = field(default_factory=dict)
    notifications: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """As the API answers it."""
        return {
            "wrapups_missed": self.wrapups_missed,
            "wrapups_late": self.wrapups_late,
            "wrapup_categories": dict(sorted(self.wrapup_categories.items())),
            "wrapup_services": {
                category: dict(sorted(services.items()))
                for category, services in sorted(self.wrapup_services.items())
            },
            "notifications": dict(sorted(self.notifications.items())),
        }


def activity(wrapups: Iterable[WrapupFact], attempts: Iterable[AttemptFact]) -> Activity:
    """The figures of these wrap-ups and attempts (see the module's formulas)."""
    figures = Activity()
    for wrapup in wrapups:
        if wrapup.status == "missed":
            figures.wrapups_missed += 1
        elif wrapup.status == "submitted":
            figures.wrapups_late += wrapup.passed_deadline
            category = wrapup.category or ""
            figures.wrapup_categories[category] = figures.wrapup_categories.get(category, 0) + 1
            if wrapup.service:
                services = figures.wrapup_services.setdefault(category, {})
                services[wrapup.service] = services.get(wrapup.service, 0) + 1
    for attempt in attempts:
        if attempt.result:
            figures.notifications[attempt.result] = figures.notifications.get(attempt.result, 0) + 1
    return figures


def intraday_profile(facts: Iterable[CallFact], zone: ZoneInfo, days: int) -> list[float]:
    """Offered calls per hour of the day (0-23, the centre's clock), averaged over
    ``days`` days."""
    hours = [0] * 24
    for fact in facts:
        hours[fact.offered_at.astimezone(zone).hour] += 1
    return [count / days if days else 0.0 for count in hours]
