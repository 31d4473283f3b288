"""Tags are templates over argument names, e.g. "user:{user_id}"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class CacheTag(str):
    __slots__ = ()

    def render(self, arguments: Mapping[str, Any]) -> str:
        try:
            return self.format_map(arguments)
        except KeyError as missing:
            raise ValueError(f"cache tag {self!r} names an unknown argument {missing}") from None
