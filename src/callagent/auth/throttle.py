"""How fast logins may fail: a growing delay per account, a high ceiling per address.

An office behind one NAT address is many people: five wrong passwords from it must
not lock everybody out. So the account that fails is slowed down (after
``free_failures`` failures each further one doubles the wait before the next try,
up to ``backoff_max``), and an address only meets a hard ceiling much higher than
any one person's mistakes (``address_limit`` failures in ``window`` seconds).
Unknown logins are throttled exactly like real ones: the answer says nothing about
who exists. Per process, in memory, with a bounded number of keys.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from dataclasses import dataclass

MAX_KEYS = 100_000  # accounts or addresses remembered; the oldest are dropped first


class SlidingWindow:
    """Events per key in the last ``window`` seconds, at most ``limit`` of them."""

    def __init__(self, limit: int, window: float, max_keys: int = MAX_KEYS) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._stamps: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> deque[float]:
        stamps = self._stamps.get(key)
        if stamps is None:
            return deque()
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()
        if not stamps:
            del self._stamps[key]
        return stamps

    def count(self, key: str, now: float) -> int:
        """Events of ``key`` in the window ending now."""
        return len(self._recent(key, now))

    def retry_after(self, key: str, now: float) -> float:
        """Seconds until ``key`` is under its limit again; 0 when it is now."""
        stamps = self._recent(key, now)
        if len(stamps) < self.limit:
            return 0.0
        return stamps[len(stamps) - self.limit] + self.window - now

    def hit(self, key: str, now: float) -> int:
        """Count one event of ``key``; its count in the window afterwards."""
        stamps = self._recent(key, now)
        if key not in self._stamps:
            self._stamps[key] = stamps
        self._stamps.move_to_end(key)
        stamps.append(now)
        while len(self._stamps) > self.max_keys:  # a spray of keys costs bounded memory
            self._stamps.popitem(last=False)
        return len(stamps)

    def clear(self, key: str) -> None:
        """Forget ``key``'s events."""
        self._stamps.pop(key, None)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A login not even tried: wait ``retry_after`` seconds (``by``: account or address)."""

    retry_after: int
    by: str


@dataclass(slots=True)
class _Failures:
    count: int
    last: float


class LoginThrottle:
    """Per-account back-off and a per-address ceiling for password logins."""

    def __init__(
        self,
        *,
        free_failures: int,
        backoff_base: float,
        backoff_max: float,
        window: float,
        address_limit: int,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.free_failures = free_failures
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.window = window  # failures are forgotten this long after the last one
        self.max_keys = max_keys
        self.addresses = SlidingWindow(address_limit, window, max_keys)
        self._accounts: OrderedDict[str, _Failures] = OrderedDict()

    def delay(self, failures: int) -> float:
        """The wait after ``failures`` failures in a row: 0, then base, 2 x base, ..."""
        if failures < self.free_failures:
            return 0.0
        doublings = min(failures - self.free_failures, 40)  # 2 ** 40 s is past any cap
        return min(self.backoff_max, self.backoff_base * 2.0**doublings)

    def _account(self, account: str, now: float) -> _Failures | None:
        state = self._accounts.get(account)
        if state is not None and now - state.last >= self.window:
            del self._accounts[account]
            return None
        return state

    def check(self, account: str, address: str, now: float | None = None) -> Refusal | None:
        """Whether a login may be tried now; a refusal is not counted as a failure."""
        now = time.monotonic() if now is None else now
        state = self._account(account.casefold(), now)
        if state is not None:
            wait = state.last + self.delay(state.count) - now
            if wait > 0:
                return Refusal(int(wait) + 1, "account")
        wait = self.addresses.retry_after(address, now)
        if wait > 0:
            return Refusal(int(wait) + 1, "address")
        return None

    def failed(self, account: str, address: str, now: float | None = None) -> tuple[int, int]:
        """Count one wrong password: (the account's failures, the address's in the window)."""
        now = time.monotonic() if now is None else now
        key = account.casefold()
        state = self._account(key, now)
        if state is None:
            state = self._accounts[key] = _Failures(0, now)
        self._accounts.move_to_end(key)
        state.count += 1
        state.last = now
        while len(self._accounts) > self.max_keys:
            self._accounts.popitem(last=False)
        return state.count, self.addresses.hit(address, now)

    def succeeded(self, account: str) -> None:
        """A good login ends the account's back-off (not the address's count)."""
        self._accounts.pop(account.casefold(), None)
