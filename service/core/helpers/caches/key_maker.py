"""Keys from argument *values* (never from object identity), so equal calls share a key."""

from __future__ import annotations

import enum
import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from service.core.helpers.caches.base.key_maker import KeyMaker


def _encode(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return {"uuid": str(value)}
    if isinstance(value, datetime | date):
        return {"time": value.isoformat()}
    if isinstance(value, enum.Enum):
        return {"enum": value.value}
    if isinstance(value, set | frozenset):
        return {"set": sorted(value, key=repr)}
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    # Refuse rather than fall back to repr(): an address in a key would never hit, and a lossy
    # repr could make two different calls share one.
    raise TypeError(f"cannot build a cache key from a {type(value).__name__} argument")


class FunctionKeyMaker(KeyMaker):
    def __init__(self, prefix: str = "cache") -> None:
        self.prefix = prefix

    def make(self, function: Callable[..., Any], arguments: Mapping[str, Any]) -> str:
        payload = json.dumps(arguments, sort_keys=True, default=_encode, separators=(",", ":"))
        digest = hashlib.sha256(payload.encode()).hexdigest()[:32]
        return f"{self.prefix}:{function.__module__}.{function.__qualname__}:{digest}"
