"""Masking applicants' personal data for credentials that do not need it."""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_PHONE_CHARS = frozenset("0123456789+()-. ")


def mask_phone(number: str) -> str:
    """``79161234567`` -> ``+7 916 ***-**-67``; other numbers keep 4 first and 2 last digits."""
    digits = "".join(ch for ch in number if ch.isdigit())
    if not digits:
        return number
    if len(digits) == 11 and digits[0] in "78":
        return f"+7 {digits[1:4]} ***-**-{digits[-2:]}"
    if len(digits) <= 6:
        return "*" * (len(digits) - 2) + digits[-2:] if len(digits) > 2 else "**"
    return digits[:4] + "*" * (len(digits) - 6) + digits[-2:]


def mask_name(name: str) -> str:
    """``Иванова Мария`` -> ``И. М.``: initials only."""
    parts = [p for p in name.split() if p]
    if not parts:
        return name
    if all(ch.isdigit() or ch in "+()- " for ch in name):
        return mask_phone(name)  # callers whose display name is their number
    return " ".join(p[0] + "." for p in parts)


def mask_contact(contact: str) -> str:
    """An applicant's way to be reached: ``ivan@mail.ru`` -> ``i***@mail.ru``; a phone
    number as :func:`mask_phone` does; anything else (a messenger handle, a note) ``***``.
    Blank stays blank."""
    value = contact.strip()
    if not value:
        return contact
    if _EMAIL.fullmatch(value):
        user, _, domain = value.partition("@")
        return f"{user[:1]}***@{domain}"
    if any(ch.isdigit() for ch in value) and set(value) <= _PHONE_CHARS:
        return mask_phone(value)
    return "***"
