"""Password checks on threads of their own, a bounded number at a time.

An scrypt check costs tens of milliseconds of CPU and 32 MiB of memory. On the
database's thread (SQLite has one) every sign-in would hold up every query
behind it; on the event loop's default pool a flood of them would take every
thread. Here they get ``workers`` threads and at most ``waiting`` more queue for
them; beyond that a sign-in is refused at once ("try again shortly") instead of
queueing without end. hashlib releases the GIL while it hashes, so the event loop
and the database thread keep running meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from bot.staff.passwords import verify_password


class PasswordChecks:
    def __init__(self, workers: int = 1, waiting: int = 4) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="password")
        self._places = workers + waiting

    @contextmanager
    def place(self) -> Iterator[bool]:
        """Hold one of the pool's places for the block: True, or False when all are taken
        (nothing is held then). Taken before anything else of a sign-in is done, so a
        refused sign-in costs nothing."""
        if self._places <= 0:
            yield False
            return
        self._places -= 1
        try:
            yield True
        finally:
            self._places += 1

    async def verify(self, password: str, stored: str) -> bool:
        """``verify_password`` on the pool's threads (call it holding a place)."""
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, verify_password, password, stored
        )

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
