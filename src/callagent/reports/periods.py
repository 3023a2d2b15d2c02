"""The report's time groups on the centre's clock: intervals, days, weeks and months.

Pure. A group is a half-open span of absolute time ``[start, end)`` named by its local
start (ISO, with the UTC offset of that moment). Steps are counted in absolute time from
the local midnight, so a daylight-saving day has its real length: in Europe/Kyiv the
last Sunday of March has 23 hourly intervals (03:00 does not exist) and the last
Sunday of October 25 (03:00+03:00 and then 03:00+02:00, two different hours).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

TIME_GROUPINGS = ("interval", "day", "week", "month")
# The days a page's period may pick: any real centre's, and far from datetime's limits.
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2099, 12, 31)


@dataclass(frozen=True)
class Bucket:
    """One time group: its key (local start, ISO) and its absolute bounds."""

    key: str
    start: datetime  # aware, UTC
    end: datetime  # aware, UTC, exclusive


@functools.lru_cache(maxsize=4096)  # every call and state of a day asks for the same one
def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The first moment of ``day`` on the centre's clock, in UTC."""
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def picked_days(
    first: date | None, last: date | None, zone: ZoneInfo, *, longest: int | None = None
) -> tuple[date, date, datetime, datetime]:
    """The days a page's from/to fields pick (today by default, either order, within
    2000-2099; at most the ``longest`` days up to ``last``) and their ``[since, until)``
    on the centre's clock."""
    today = datetime.now(zone).date()
    first, last = first or today, last or first or today
    # a hand-typed year 1 or 9999 is a page of nothing, not an overflow (500)
    first, last = (min(max(day, EARLIEST_DAY), LATEST_DAY) for day in (first, last))
    if last < first:
        first, last = last, first
    if longest is not None and (last - first).days >= longest:
        first = last - timedelta(days=longest - 1)
    return first, last, local_midnight(first, zone), local_midnight(last + timedelta(days=1), zone)


def bucket_of(at: datetime, by: str, zone: ZoneInfo, interval_minutes: int = 30) -> Bucket:
    """The group ``at`` falls in (``by``: interval, day, week or month)."""
    local = at.astimezone(zone)
    day = local.date()
    if by == "interval":
        midnight = local_midnight(day, zone)
        next_midnight = local_midnight(day + timedelta(days=1), zone)
        step = timedelta(minutes=interval_minutes)
        elapsed = at.astimezone(UTC) - midnight
        start = midnight + step * (elapsed // step)
        end = min(start + step, next_midnight)
        return Bucket(start.astimezone(zone).isoformat(timespec="minutes"), start, end)
    if by == "day":
        first, after = day, day + timedelta(days=1)
        key = first.isoformat()
    elif by == "week":  # from Monday
        first = day - timedelta(days=day.weekday())
        after = first + timedelta(days=7)
        key = first.isoformat()
    elif by == "month":
        first = day.replace(day=1)
        after = (first + timedelta(days=32)).replace(day=1)
        key = first.isoformat()[:7]
    else:
        raise ValueError(f"not a time grouping: {by!r}")
    return Bucket(key, local_midnight(first, zone), local_midnight(after, zone))


def buckets(
    since: datetime, until: datetime, by: str, zone: ZoneInfo, interval_minutes: int = 30
) -> Iterator[Bucket]:
    """Every group of ``[since, until)`` in order, cut to the period at its ends."""
    at = since.astimezone(UTC)
    end = until.astimezone(UTC)
    while at < end:
        one = bucket_of(at, by, zone, interval_minutes)
        yield Bucket(one.key, max(one.start, at), min(one.end, end))
        at = one.end


def days_in(since: datetime, until: datetime, zone: ZoneInfo) -> int:
    """How many calendar days of the centre's clock ``[since, until)`` touches."""
    return sum(1 for _ in buckets(since, until, "day", zone))
