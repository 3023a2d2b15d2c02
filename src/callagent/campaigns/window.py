"""Calling windows: may this number be called now, and when may it next be called.

Pure. A campaign's window is per weekday (``{"mon": [["09:00", "20:00"]], ...}``) in
the applicant's own time zone: the one zone ``phonenumbers`` gives for the number
(landlines name their region; Russian mobiles span eleven zones and give none), or
the zone stored with the entry at import, else the office's. Holidays are dates
(``YYYY-MM-DD``) on which nobody is called, read in the applicant's zone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_timezone

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HORIZON_DAYS = 400  # a window that never opens within this is "never"


class WindowError(ValueError):
    """A campaign's window, holidays or zone cannot be read."""


def _clock(text: str, where: str) -> time:
    if text in ("24:00", "23:59:59"):
        return time.max
    try:
        hours, minutes = text.split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise WindowError(f"{where}: {text!r} is not a time of day HH:MM") from None


@dataclass(frozen=True)
class CallingWindow:
    """Opening hours per weekday (0 = Monday) and the holidays."""

    days: tuple[tuple[tuple[time, time], ...], ...]
    holidays: frozenset[date]

    @classmethod
    def parse(cls, window: Mapping[str, Any], holidays: Iterable[str] = ()) -> CallingWindow:
        """From a campaign's ``window`` and ``holidays``; a clear error for anything else."""
        unknown = set(window) - set(WEEKDAYS)
        if unknown:
            raise WindowError(f"window: unknown weekday(s) {sorted(unknown)}; use {WEEKDAYS}")
        days: list[tuple[tuple[time, time], ...]] = []
        for name in WEEKDAYS:
            spans: list[tuple[time, time]] = []
            for span in window.get(name) or []:
                if not isinstance(span, list | tuple) or len(span) != 2:
                    raise WindowError(f'window.{name}: {span!r} is not ["HH:MM", "HH:MM"]')
                start = _clock(str(span[0]), f"window.{name}")
                end = _clock(str(span[1]), f"window.{name}")
                if end <= start:
                    raise WindowError(f"window.{name}: {span[0]}-{span[1]} ends before it starts")
                spans.append((start, end))
            days.append(tuple(sorted(spans)))
        parsed: set[date] = set()
        for text in holidays:
            try:
                parsed.add(date.fromisoformat(str(text)))
            except ValueError:
                raise WindowError(f"holidays: {text!r} is not a date YYYY-MM-DD") from None
        return cls(tuple(days), frozenset(parsed))

    def is_open(self, at: datetime, zone: ZoneInfo) -> bool:
        """True when ``at`` (aware) falls inside the window in ``zone``."""
        local = at.astimezone(zone)
        if local.date() in self.holidays:
            return False
        clock = local.time().replace(tzinfo=None)
        return any(start <= clock < end for start, end in self.days[local.weekday()])

    def next_open(self, at: datetime, zone: ZoneInfo) -> datetime | None:
        """``at`` if open, else the next moment the window opens (aware, in ``zone``).

        None when it never opens (no hours at all, or only on holidays).
        """
        local = at.astimezone(zone)
        for offset in range(_HORIZON_DAYS):
            day = local.date() + timedelta(days=offset)
            if day in self.holidays:
                continue
            for start, end in self.days[day.weekday()]:
                opens = datetime.combine(day, start, tzinfo=zone)
                closes = datetime.combine(day, end, tzinfo=zone)
                if closes <= local:
                    continue
                return local if opens <= local else opens
        return None

    def closes_at(self, at: datetime, zone: ZoneInfo) -> datetime | None:
        """When the span open at ``at`` ends; None when closed at ``at``."""
        local = at.astimezone(zone)
        if local.date() in self.holidays:
            return None
        clock = local.time().replace(tzinfo=None)
        for start, end in self.days[local.weekday()]:
            if start <= clock < end:
                return datetime.combine(local.date(), end, tzinfo=zone)
        return None


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """An IANA zone by name; :class:`WindowError` when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise WindowError(f"{name!r} is not an IANA time zone (e.g. Europe/Moscow)") from None


@lru_cache(maxsize=65536)
def number_zone(phone: str) -> str:
    """The one IANA zone of an E.164 number, or '' when the number does not tell."""
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return ""
    zones = [z for z in phone_timezone.time_zones_for_number(parsed) if z != "Etc/Unknown"]
    return zones[0] if len(zones) == 1 else ""


def phone_zone(phone: str, stored: str, office: str) -> ZoneInfo:
    """The zone to apply to ``phone``: its own, else the one stored at import, else the office's."""
    for name in (number_zone(phone), stored):
        if name:
            try:
                return zone(name)
            except WindowError:
                continue
    return zone(office)


def entry_zone(phone: str, stored: str | None, office: str) -> ZoneInfo:
    """:func:`phone_zone` for a registry entry: the zone the import stored for the number
    ('' = the number does not tell) saves parsing it again; None = not stored."""
    if stored is None:
        return phone_zone(phone, "", office)
    if stored:
        try:
            return zone(stored)
        except WindowError:
            pass
    return zone(office)
