"""How many sign-in attempts an account and a client address may make.

Password guessing is slow by design (scrypt), so a flood of guesses is also a
flood of CPU work. Each attempt is counted *before* its password is checked, as a
failure until it succeeds, so concurrent guesses cannot overshoot the limit: N
failures within ``lockout_seconds`` lock the account (or address) for
``lockout_seconds``, during which even the right password is refused. A success
clears its account's count and refunds its own attempt to the address.

The account key is the email as typed (normalised), whether or not such an
account exists, so an unknown account is answered exactly like a known one.

``SignInLimits`` is the interface the sign-in handler uses; ``MemorySignInLimits``
holds the counts in this process (one web worker). Several workers need a shared
store (e.g. Redis) behind the same three methods.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections import OrderedDict, deque
from collections.abc import Callable


class SignInLimits(ABC):
    """The three steps of a sign-in, as the limiter sees them."""

    @abstractmethod
    async def hit(self, address: str, account: str) -> float:
        """Count an attempt: 0.0 if it may go ahead, else the seconds until one may
        (nothing is counted then)."""

    @abstractmethod
    async def failed(self, address: str, account: str) -> None:
        """The attempt's password was wrong (or the account unknown)."""

    @abstractmethod
    async def succeeded(self, address: str, account: str) -> None:
        """The attempt signed in."""


class _Window:
    """Attempts of one key within the window, and until when the key is locked."""

    __slots__ = ("attempts", "locked_until")

    def __init__(self) -> None:
        self.attempts: deque[float] = deque()
        self.locked_until = 0.0


class MemorySignInLimits(SignInLimits):
    """Sliding windows in this process's memory; the least recently used keys are
    forgotten first beyond ``capacity``."""

    def __init__(
        self,
        per_account: int,
        per_address: int,
        lockout_seconds: float,
        capacity: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = {"account": per_account, "address": per_address}
        self.lockout_seconds = lockout_seconds
        self.capacity = capacity
        self.clock = clock
        self._windows: OrderedDict[tuple[str, str], _Window] = OrderedDict()

    def _window(self, kind: str, key: str, now: float) -> _Window:
        window = self._windows.get((kind, key))
        if window is None:
            window = self._windows[(kind, key)] = _Window()
            while len(self._windows) > self.capacity:
                self._windows.popitem(last=False)
        self._windows.move_to_end((kind, key))
        while window.attempts and window.attempts[0] <= now - self.lockout_seconds:
            window.attempts.popleft()
        return window

    def _keys(self, address: str, account: str) -> list[tuple[str, str]]:
        return [("account", account), ("address", address)] if address else [("account", account)]

    async def hit(self, address: str, account: str) -> float:
        now = self.clock()
        windows = [(kind, self._window(kind, key, now)) for kind, key in self._keys(address, account)]
        wait = 0.0
        for kind, window in windows:
            if window.locked_until > now:
                wait = max(wait, window.locked_until - now)
            elif len(window.attempts) >= self.limits[kind]:
                # Attempts still being checked fill the window: wait for the oldest to age out.
                wait = max(wait, window.attempts[0] + self.lockout_seconds - now)
        if wait > 0:
            return wait
        for _, window in windows:
            window.attempts.append(now)
        return 0.0

    async def failed(self, address: str, account: str) -> None:
        now = self.clock()
        for kind, key in self._keys(address, account):
            window = self._window(kind, key, now)
            if len(window.attempts) >= self.limits[kind]:
                window.locked_until = now + self.lockout_seconds
                window.attempts.clear()  # counted afresh once the lock ends

    async def succeeded(self, address: str, account: str) -> None:
        now = self.clock()
        self._window("account", account, now).attempts.clear()
        if address:
            attempts = self._window("address", address, now).attempts
            if attempts:
                attempts.pop()  # this attempt was not a guess
