from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class CacheUnavailableError(Exception):
    """The cache store cannot be reached; callers fall through to the source."""


@dataclass(frozen=True, slots=True)
class Lookup:
    hit: bool
    value: Any = None
    # Opaque token the backend needs to store a value computed after this lookup.
    stamp: Any = None


class CacheBackend(ABC):
    """Stores JSON-compatible values under keys, grouped by tags for invalidation."""

    @abstractmethod
    async def lookup(self, key: str, tags: Sequence[str]) -> Lookup: ...

    @abstractmethod
    async def store(
        self, key: str, value: Any, *, ttl: int, tags: Sequence[str], stamp: Any
    ) -> None: ...

    @abstractmethod
    async def invalidate_tags(self, *tags: str) -> None: ...
