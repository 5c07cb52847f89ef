"""Password hashing with argon2id, run in worker threads.

A hash costs ~0.1 s of CPU and 64 MiB at the default parameters, so it never runs
on the event loop (argon2 releases the GIL), and a semaphore bounds how many run at
once so a burst of logins cannot exhaust memory. Logins for unknown users verify
against a dummy hash so that both answers take the same time.
"""

from __future__ import annotations

import asyncio
import os

from argon2 import PasswordHasher as _Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class PasswordHasher:
    """argon2id hashing with the configured cost; every method is async and off-loop."""

    def __init__(self, *, time_cost: int = 3, memory_kib: int = 65536) -> None:
        self._argon2 = _Argon2(time_cost=time_cost, memory_cost=memory_kib, type=Type.ID)
        self._slots = asyncio.Semaphore(max(2, os.cpu_count() or 2))
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        """The encoded argon2id hash of ``password`` (salted)."""
        async with self._slots:
            return await asyncio.to_thread(self._argon2.hash, password)

    async def verify(self, encoded: str, password: str) -> bool:
        """Whether ``password`` matches ``encoded``; a corrupt hash never matches."""
        async with self._slots:
            return await asyncio.to_thread(self._verify, encoded, password)

    async def verify_dummy(self, password: str) -> None:
        """Spend the time of a verification, for a user that does not exist."""
        if self._dummy is None:
            self._dummy = await self.hash("dummy password, never matches")
        await self.verify(self._dummy, password)

    def needs_rehash(self, encoded: str) -> bool:
        """Whether ``encoded`` was made with other parameters than the current ones."""
        try:
            return self._argon2.check_needs_rehash(encoded)
        except InvalidHashError:
            return True

    def _verify(self, encoded: str, password: str) -> bool:
        try:
            return self._argon2.verify(encoded, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
