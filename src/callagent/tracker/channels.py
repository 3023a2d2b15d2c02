"""Channel names: the device (endpoint) a channel belongs to."""

from __future__ import annotations


def endpoint_of(channel: str) -> str:
    """``PJSIP/op1001-0000002a`` -> ``PJSIP/op1001`` (the device Asterisk reports)."""
    if channel.startswith("Local/"):
        return channel.split(";", 1)[0].rsplit("-", 1)[0]
    head, sep, _ = channel.rpartition("-")
    return head if sep else channel
