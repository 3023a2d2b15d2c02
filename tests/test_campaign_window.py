"""Calling windows per weekday in the applicant's own zone, holidays, next opening."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callagent.campaigns.window import (
    CallingWindow,
    WindowError,
    entry_zone,
    number_zone,
    phone_zone,
    zone,
)

WEEK = {
    "mon": [["09:00", "13:00"], ["14:00", "20:00"]],
    "tue": [["09:00", "20:00"]],
    "wed": [["09:00", "20:00"]],
    "thu": [["09:00", "20:00"]],
    "fri": [["09:00", "20:00"]],
    "sat": [["10:00", "16:00"]],
    "sun": [],
}
MOSCOW = zone("Europe/Moscow")
VLADIVOSTOK = zone("Asia/Vladivostok")


def test_window_by_weekday_with_a_lunch_break() -> None:
    window = CallingWindow.parse(WEEK)
    monday = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)  # 12:30 in Moscow
    assert window.is_open(monday, MOSCOW)
    lunch = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)  # 13:30 in Moscow
    assert not window.is_open(lunch, MOSCOW)
    assert window.next_open(lunch, MOSCOW) == datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    assert window.closes_at(monday, MOSCOW) == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    saturday_night = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)  # 23:00 Sat in Moscow
    assert window.next_open(saturday_night, MOSCOW) == datetime(2026, 11, 30, 6, 0, tzinfo=UTC)


def test_the_applicants_own_zone_decides() -> None:
    window = CallingWindow.parse(WEEK)
    at = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)  # Tue 10:00 Moscow, 17:00 Vladivostok
    assert window.is_open(at, MOSCOW) and window.is_open(at, VLADIVOSTOK)
    late = datetime(2026, 11, 24, 11, 30, tzinfo=UTC)  # 14:30 Moscow, 21:30 Vladivostok
    assert window.is_open(late, MOSCOW) and not window.is_open(late, VLADIVOSTOK)
    assert phone_zone("+74232123456", "", "Europe/Moscow") == VLADIVOSTOK  # a landline
    assert number_zone("+79161234567") == ""  # a mobile spans eleven zones
    assert phone_zone("+79161234567", "", "Europe/Moscow") == MOSCOW  # the office's
    assert phone_zone("+79161234567", "Asia/Novosibirsk", "Europe/Moscow") == zone(
        "Asia/Novosibirsk"
    )  # the zone stored at import


def test_holidays_and_bad_windows() -> None:
    window = CallingWindow.parse(WEEK, ["2026-11-24"])
    tuesday = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert not window.is_open(tuesday, MOSCOW)
    assert window.next_open(tuesday, MOSCOW) == datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
    assert CallingWindow.parse({}).next_open(tuesday, MOSCOW) is None
    with pytest.raises(WindowError, match="unknown weekday"):
        CallingWindow.parse({"monday": []})
    with pytest.raises(WindowError, match="HH:MM"):
        CallingWindow.parse({"mon": [["9am", "20:00"]]})
    with pytest.raises(WindowError, match="ends before"):
        CallingWindow.parse({"mon": [["20:00", "09:00"]]})
    with pytest.raises(WindowError, match="YYYY-MM-DD"):
        CallingWindow.parse(WEEK, ["24.11.2026"])
    with pytest.raises(WindowError, match="IANA"):
        zone("Mars/Olympus")


def test_the_zone_stored_at_import_is_used_as_is() -> None:
    assert entry_zone("+74232123456", None, "Europe/Moscow") == VLADIVOSTOK  # not stored
    assert entry_zone("+74232123456", "Asia/Vladivostok", "Europe/Moscow") == VLADIVOSTOK
    assert entry_zone("+79161234567", "", "Europe/Moscow") == MOSCOW  # the number does not tell
    assert entry_zone("+79161234567", "Mars/Base", "Europe/Moscow") == MOSCOW
