"""Per-sender rate limits for the chat (token buckets).

A buyer types a message every few seconds; a script pasting 20 a second would
queue work for Rasa that nobody reads. Each conversation and each client
address has a bucket: a burst of messages goes through, then the sender gets
one message per ``1 / rate`` seconds and is told how long to wait.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class Throttle:
    def __init__(
        self,
        rate_per_second: float,
        burst: int,
        capacity: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate_per_second
        self.burst = burst
        self.capacity = capacity
        self.clock = clock
        #: key → (tokens left, when they were counted, told to wait until); oldest senders forgotten first.
        self._buckets: OrderedDict[str, tuple[float, float, float]] = OrderedDict()

    def wait(self, key: str) -> float:
        """Take one message from ``key``'s bucket: 0.0 if it may go now, else the
        seconds until it may (nothing is taken then).

        A sender told to wait is refused until that time even if a token has come
        back meanwhile, so messages sent again after the wait arrive in their order.
        """
        now = self.clock()
        tokens, then, blocked_until = self._buckets.get(key, (float(self.burst), now, 0.0))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        if now < blocked_until:
            wait = blocked_until - now
        elif tokens >= 1.0:
            tokens -= 1.0
            wait = 0.0
        else:
            wait = (1.0 - tokens) / self.rate
            blocked_until = now + wait
        self._buckets[key] = (tokens, now, blocked_until)
        self._buckets.move_to_end(key)
        while len(self._buckets) > self.capacity:
            self._buckets.popitem(last=False)
        return wait
