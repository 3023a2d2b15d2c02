"""The planner's inputs written as text: settings (holidays, shrinkage) and manual
adjustments (the API's ``adjust`` and the CLI's ``--adjust``). Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from callagent.planning.forecast import Adjustment


def parse_holidays(values: Iterable[str]) -> list[date]:
    """Days as ``YYYY-MM-DD``; a clear error names a bad one."""
    days: list[date] = []
    for text in values:
        try:
            days.append(date.fromisoformat(text.strip()))
        except ValueError:
            raise ValueError(f"{text!r} is not a day such as 2027-01-07 (YYYY-MM-DD)") from None
    return days


MAX_FACTOR = 100.0
MAX_ADD = 10_000.0

_SHARE = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*=\s*([0-9]*\.?[0-9]+)\s*$")


def parse_shrinkage(values: Iterable[str]) -> dict[str, float]:
    """Shrinkage as ``name=share`` items (``breaks=0.10``); shares ≥ 0 adding up to
    less than 1."""
    shares: dict[str, float] = {}
    for text in values:
        match = _SHARE.match(text)
        if match is None:
            raise ValueError(
                f"{text!r} is not name=share such as breaks=0.10 (a share of paid time)"
            )
        shares[match.group(1)] = float(match.group(2))
    if sum(shares.values()) >= 1:
        raise ValueError("shrinkage shares must add up to less than 1")
    return shares


def _moment(text: str, zone: ZoneInfo) -> datetime:
    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def parse_adjustment(text: str, zone: ZoneInfo) -> Adjustment:
    """``START/END[,FACTOR[,ADD]]``: the intervals starting in [START, END) (ISO times;
    without a zone on the centre's clock) times FACTOR (1) plus ADD calls (0) each,
    e.g. ``2026-12-07T10:00/2026-12-07T12:00,1.2,15``."""
    head, *numbers = text.split(",")
    if "/" not in head or len(numbers) > 2:
        raise ValueError(
            f"{text!r}: write START/END[,FACTOR[,ADD]] such as "
            "2026-12-07T10:00/2026-12-07T12:00,1.2,15"
        )
    first, last = head.split("/", 1)
    try:
        start, end = _moment(first, zone), _moment(last, zone)
        factor = float(numbers[0]) if numbers and numbers[0].strip() else 1.0
        add = float(numbers[1]) if len(numbers) > 1 and numbers[1].strip() else 0.0
    except ValueError:
        raise ValueError(
            f"{text!r}: START and END are ISO times (2026-12-07T10:00), FACTOR and ADD numbers"
        ) from None
    # bounded: an interval's staffing costs time in proportion to its calls
    if not (0 <= factor <= MAX_FACTOR and 0 <= add <= MAX_ADD):
        raise ValueError(
            f"{text!r}: FACTOR must be 0 to {MAX_FACTOR:g} and ADD 0 to {MAX_ADD:g} calls (≥ 0)"
        )
    return Adjustment(start, end, factor, add)
