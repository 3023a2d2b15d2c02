"""The webhook signature: HMAC-SHA256 over ``"<timestamp>.<body>"``.

Receivers recompute it with their secret, compare in constant time, and reject
timestamps older than a few minutes (replays). See the README's Webhooks section.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Callagent-Signature"
TIMESTAMP_HEADER = "X-Callagent-Timestamp"
EVENT_HEADER = "X-Callagent-Event"
DELIVERY_HEADER = "X-Callagent-Event-Id"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The value of the signature header: ``v1=<hex>``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify(secret: str, timestamp: int, body: bytes, header: str) -> bool:
    """What a receiver does (used by the tests as a receiver would)."""
    return hmac.compare_digest(sign(secret, timestamp, body), header)
