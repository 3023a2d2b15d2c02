"""Applicants' phone numbers: split a registry cell, normalise to E.164, find the time zone.

Pure functions over ``phonenumbers``; no IO.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import timezone as phone_timezone

# Several numbers in one cell: "8 916 123-45-67, +7 903 765-43-21; 495 000-00-00".
_SEPARATORS = re.compile(r"[,;\n\r]+")
_UNKNOWN_ZONE = "Etc/Unknown"


@dataclass(frozen=True)
class Phone:
    """A valid number: E.164 and its IANA time zone ('' when the number does not tell)."""

    e164: str
    timezone: str


def split_cell(cell: str) -> list[str]:
    """The numbers written in one cell, stripped, empty pieces dropped."""
    return [piece.strip() for piece in _SEPARATORS.split(cell) if piece.strip()]


def parse_phone(text: str, region: str = "RU") -> Phone | None:
    """``text`` as a valid number (read in ``region`` when it has no country code), else None.

    ``8 (916) 123-45-67``, ``+7 916 1234567`` and ``9161234567`` all give ``+79161234567``.
    """
    candidate = text.strip()
    if not candidate or sum(ch.isdigit() for ch in candidate) < 5:
        return None
    if candidate.startswith("00"):  # international prefix written out: 00 49 30 ...
        candidate = "+" + candidate[2:]
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Phone(e164=e164, timezone=zone_of(number))


def zone_of(number: phonenumbers.PhoneNumber) -> str:
    """The one IANA zone of a number, or '' when it spans several or is unknown.

    Russian mobile numbers span the whole country (''); landlines name their region.
    """
    zones = [z for z in phone_timezone.time_zones_for_number(number) if z != _UNKNOWN_ZONE]
    return zones[0] if len(zones) == 1 else ""


def normalise(text: str, region: str = "RU") -> str | None:
    """The E.164 form of ``text``, or None when it is not a valid number."""
    phone = parse_phone(text, region)
    return phone.e164 if phone is not None else None
