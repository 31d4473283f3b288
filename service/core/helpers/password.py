"""Password hashing with argon2id; hashes made with older parameters are upgraded on login.

Hashing is CPU- and memory-bound (tens of milliseconds and `memory_cost_kib` each, by design),
so the async methods run it on a small thread pool of its own: the event loop keeps serving,
and a burst of logins cannot allocate more than `max_workers * memory_cost_kib` at once.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PasswordCheck:
    ok: bool
    # A fresh hash when the stored one was made with other parameters (store it), else None.
    new_hash: str | None = None


class PasswordHasher:
    def __init__(
        self,
        *,
        time_cost: int = 2,
        memory_cost_kib: int = 19_456,
        parallelism: int = 1,
        max_workers: int | None = None,
    ) -> None:
        self._argon2 = Argon2Hasher(
            time_cost=time_cost,
            memory_cost=memory_cost_kib,
            parallelism=parallelism,
            type=Type.ID,
        )
        self._dummy_hash: str | None = None
        self._pool = ThreadPoolExecutor(
            max_workers=max_workers or min(8, os.cpu_count() or 1),
            thread_name_prefix="argon2",
        )

    async def _run(self, function: Callable[..., T], *args: str) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)

    def hash_sync(self, password: str) -> str:
        return self._argon2.hash(password)

    def verify_sync(self, stored_hash: str, password: str) -> PasswordCheck:
        try:
            self._argon2.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return PasswordCheck(ok=False)
        if self._argon2.check_needs_rehash(stored_hash):
            return PasswordCheck(ok=True, new_hash=self._argon2.hash(password))
        return PasswordCheck(ok=True)

    async def hash(self, password: str) -> str:
        return await self._run(self.hash_sync, password)

    async def verify(self, stored_hash: str | None, password: str) -> PasswordCheck:
        """Check `password`; with no stored hash (unknown user, or an account without a local
        password) it verifies against a dummy hash so both cases take the same time."""
        if stored_hash is None:
            if self._dummy_hash is None:
                self._dummy_hash = await self.hash("dummy password for unknown accounts")
            await self._run(self.verify_sync, self._dummy_hash, password)
            return PasswordCheck(ok=False)
        return await self._run(self.verify_sync, stored_hash, password)
