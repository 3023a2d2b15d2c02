"""Phone numbers as the pages show them: ``79936196492`` -> ``+7 993 619-64-92``.

The international format of the number's own country (``phonenumbers``, libphonenumber's
rules), whatever language the page is in. What callagent stores (digits, with or without
a leading ``+``, a national ``8 916 ...``) is read in the office's region first (so a
Moscow ``4951234567`` is not taken for a German number), then as an international
number without its ``+`` (``380441234567``); anything else (a masked
``+7 916 ***-**-67``, an internal extension, text) is shown as it came.
"""

from __future__ import annotations

import phonenumbers

MAX_LENGTH = 32  # longer is not a phone number


def display_phone(text: str, region: str = "RU") -> str:
    """``text`` in the international format of its country, or ``text`` unchanged."""
    raw = text.strip()
    if not raw or len(raw) > MAX_LENGTH or "*" in raw:
        return text
    digits = "".join(ch for ch in raw if ch.isdigit())
    if len(digits) < 7:  # an extension or a short number: no country to format for
        return text
    candidates = [raw] if raw.startswith("+") else [raw, f"+{digits}"]
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return text
