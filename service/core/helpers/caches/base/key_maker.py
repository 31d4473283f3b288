from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any


class KeyMaker(ABC):
    """Builds a cache key from a function and the values of its arguments."""

    @abstractmethod
    def make(self, function: Callable[..., Any], arguments: Mapping[str, Any]) -> str: ...
