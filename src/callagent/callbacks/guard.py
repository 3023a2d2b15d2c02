"""The public endpoint's guards: the site key, replays, and limits per number and address.

The site key is the webhooks' signature turned round: the office's website signs each
request with the shared secret (``CALLAGENT_CALLBACK_SITE_SECRET``) as callagent signs
its webhook deliveries (:mod:`callagent.webhooks.signing`: ``v1=`` + hex HMAC-SHA256 over
``"<timestamp>.<raw body>"``, in ``X-Callagent-Signature`` and ``X-Callagent-Timestamp``).
A timestamp more than :data:`TOLERANCE` seconds from now is refused, and a signature
already accepted within that time is refused again (an exact replay). Limits count per
applicant's number (a day) and per client address (an hour) in the login throttle's
sliding windows: in memory, per process, with a bounded number of keys.
"""

from __future__ import annotations

import hmac
from collections import OrderedDict

from callagent.auth.throttle import SlidingWindow
from callagent.webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

TOLERANCE = 300  # seconds a signed request stays valid (the webhooks' receivers' five minutes)
MAX_SEEN = 100_000  # signatures remembered against replays (bounded memory)
NUMBER_WINDOW = 86_400.0
ADDRESS_WINDOW = 3_600.0

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "TOLERANCE", "Limits", "SiteKey"]


class SiteKey:
    """Checks a request's signature and timestamp, and refuses replays."""

    def __init__(self, secret: str, *, tolerance: int = TOLERANCE, max_seen: int = MAX_SEEN):
        self.secret = secret
        self.tolerance = tolerance
        self.max_seen = max_seen
        self._seen: OrderedDict[str, float] = OrderedDict()  # signature -> its timestamp

    def problem(self, *, timestamp: str, signature: str, body: bytes, now: float) -> str | None:
        """Why this request is not the website's (a code), or None when it is.

        The checks are made in this order so that only a correctly signed request is ever
        remembered: a forger cannot fill the replay memory.
        """
        if not timestamp or not signature:
            return "callback_signature_missing"
        try:
            stamp = int(timestamp)
        except ValueError:
            return "callback_signature_invalid"
        if not hmac.compare_digest(sign(self.secret, stamp, body), signature):
            return "callback_signature_invalid"
        if abs(now - stamp) > self.tolerance:
            return "callback_signature_stale"
        self._forget(now)
        if signature in self._seen:
            return "callback_signature_replayed"
        self._seen[signature] = float(stamp)
        while len(self._seen) > self.max_seen:
            self._seen.popitem(last=False)
        return None

    def _forget(self, now: float) -> None:
        """Drop signatures too old to be accepted again anyway (their stamp is stale)."""
        while self._seen:
            signature, stamp = next(iter(self._seen.items()))
            if now - stamp <= self.tolerance:
                break
            del self._seen[signature]


class Limits:
    """Requests per applicant's number in a day and per client address in an hour."""

    def __init__(self, *, per_number: int, per_address: int) -> None:
        self.numbers = SlidingWindow(per_number, NUMBER_WINDOW)
        self.addresses = SlidingWindow(per_address, ADDRESS_WINDOW)

    def address_wait(self, address: str, now: float) -> int:
        """Seconds until this address may post again; 0 when it may now."""
        wait = self.addresses.retry_after(address, now)
        return int(wait) + 1 if wait > 0 else 0

    def count_address(self, address: str, now: float) -> None:
        """Count one request from this address."""
        self.addresses.hit(address, now)

    def number_allows(self, phone: str, now: float) -> bool:
        """Count one request for this number; False when it is over its limit (the request
        is then dropped, and answered like any other: the answer never tells)."""
        if self.numbers.retry_after(phone, now) > 0:
            return False
        self.numbers.hit(phone, now)
        return True
