"""The waiting calls' rules (pure): their order, who still waits, whose turn it is.

One set of rules for both places the list lives: the router's memory (one instance,
SQLite) and the ``waiting_calls`` rows several instances share (PostgreSQL,
``routing/shared.py``). Each feeds its entries here with times of one clock (the
process's monotonic clock in memory, PostgreSQL's clock for the rows).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Protocol

# A held call in memory is alive while its dialogue is (no renewal to miss).
FOREVER = math.inf


class Entry(Protocol):
    """A waiting call as the rules see it."""

    @property
    def call(self) -> str: ...
    @property
    def priority(self) -> int: ...
    @property
    def since(self) -> float: ...  # when it began to wait
    @property
    def heard(self) -> float: ...  # last asked again, or last renewed while held
    @property
    def is_held(self) -> bool: ...  # its dialogue holds the caller (does not ask again)


def rank_key(priority: int, since: float) -> tuple[int, float]:
    """The order of the waiting calls: higher priority first, then the longest waiting."""
    return (-priority, since)


def asking(entry: Entry, now: float, *, silence: float, held_lease: float) -> bool:
    """Still waiting: held and vouched for within ``held_lease`` s, or (told ``wait``)
    asked again within ``silence`` s."""
    return now - entry.heard < (held_lease if entry.is_held else silence)


def count_ahead(
    entries: Iterable[Entry],
    call: str,
    key: tuple[int, float],
    now: float,
    *,
    silence: float,
    held_lease: float,
) -> int:
    """The waiting calls still asking that come before ``call`` (ranked ``key``)."""
    return sum(
        1
        for other in entries
        if other.call != call
        and asking(other, now, silence=silence, held_lease=held_lease)
        and rank_key(other.priority, other.since) < key
    )


def must_wait(ahead: int, free: int) -> bool:
    """Calls ahead of this one get the free operators first: this one waits when they
    take them all (a newcomer never takes the operator an earlier call is about to get)."""
    return ahead > 0 and free <= ahead


def silent(entries: Iterable[Entry], now: float, *, silence: float, held_lease: float) -> list[str]:
    """The calls that stopped asking (or whose holder stopped vouching): off the list."""
    return [e.call for e in entries if not asking(e, now, silence=silence, held_lease=held_lease)]


def ordered(entries: Iterable[Entry]) -> list[Entry]:
    """First in line first."""
    return sorted(entries, key=lambda e: rank_key(e.priority, e.since))
