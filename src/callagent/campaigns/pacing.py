"""Pacing of the dialer: concurrency, new calls per second, back-off when the trunk refuses.

Pure: the caller passes the (monotonic) time; ``delay()`` says how long to wait
before the next Originate may be sent. Trunks often allow only a few new calls a
second; when Asterisk refuses Originates (``Response: Error``) or calls keep
failing with congestion / channel unavailable, the dialer pauses and doubles the
pause each time instead of burning the applicants' attempts.
"""

from __future__ import annotations

from dataclasses import dataclass

_TRUNK_TROUBLE = frozenset({"congestion", "failed"})


@dataclass
class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up."""

    rate: float
    burst: float = 1.0
    tokens: float = 1.0
    stamp: float | None = None

    def _refill(self, now: float) -> None:
        if self.stamp is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait(self, now: float) -> float:
        """Seconds until a token is there (0: one is there now)."""
        self._refill(now)
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        """Use one token (call :meth:`wait` first)."""
        self._refill(now)
        self.tokens -= 1.0


@dataclass
class Pacer:
    """Decides when the next Originate may go out."""

    max_concurrent: int
    calls_per_second: float
    backoff_min: float = 1.0
    backoff_max: float = 60.0
    trouble_threshold: int = 3  # congestion/failed results in a row before backing off
    in_flight: int = 0
    paused_until: float = 0.0
    refusals: int = 0  # Originates refused by Asterisk (not attempts)
    backoffs: int = 0
    _backoff: float = 0.0
    _trouble: int = 0
    _bucket: TokenBucket | None = None

    def __post_init__(self) -> None:
        if self.max_concurrent < 1 or self.calls_per_second <= 0:
            raise ValueError("max_concurrent must be >= 1 and calls_per_second > 0")
        burst = max(1.0, min(self.calls_per_second, float(self.max_concurrent)))
        self._bucket = TokenBucket(self.calls_per_second, burst, burst)

    def resize(self, max_concurrent: int, calls_per_second: float) -> None:
        """New limits (the campaign's settings changed); calls in flight are kept."""
        if (max_concurrent, calls_per_second) != (self.max_concurrent, self.calls_per_second):
            self.max_concurrent = max_concurrent
            self.calls_per_second = calls_per_second
            self.__post_init__()

    @property
    def bucket(self) -> TokenBucket:
        assert self._bucket is not None
        return self._bucket

    @property
    def full(self) -> bool:
        """All call slots are taken."""
        return self.in_flight >= self.max_concurrent

    def delay(self, now: float) -> float:
        """Seconds to wait before the next Originate (0: now); inf while all slots are busy."""
        if self.full:
            return float("inf")
        return max(self.paused_until - now, self.bucket.wait(now), 0.0)

    def started(self, now: float) -> None:
        """An Originate is being sent."""
        self.bucket.take(now)
        self.in_flight += 1

    def refused(self, now: float) -> None:
        """Asterisk refused it (``Response: Error``): no call, not an attempt; back off."""
        self.in_flight = max(0, self.in_flight - 1)
        self.refusals += 1
        self._back_off(now)

    def finished(self, result: str, now: float) -> None:
        """A call ended with ``result``; back off after trunk trouble in a row."""
        self.in_flight = max(0, self.in_flight - 1)
        if result in _TRUNK_TROUBLE:
            self._trouble += 1
            if self._trouble >= self.trouble_threshold:
                self._trouble = 0
                self._back_off(now)
            return
        if result != "timeout":
            self._trouble = 0
            self._backoff = 0.0  # the trunk works again

    def _back_off(self, now: float) -> None:
        self._backoff = min(self.backoff_max, max(self.backoff_min, self._backoff * 2))
        self.paused_until = max(self.paused_until, now + self._backoff)
        self.backoffs += 1
