"""Keyset pages and their opaque cursors: base64url of the last item's `(created_at, id)`.

One codec for every module, so every listing answers a cursor it did not issue the same way:
`InvalidCursorError`, a 400 problem with code `invalid_cursor`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from service.core.exceptions import InvalidCursorError

T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True, slots=True)
class Cursor:
    """A position in newest-first order: items strictly after `(created_at, id)` come next."""

    created_at: datetime
    id: str


class Positioned(Protocol):
    """What a page is ordered by: newest `created_at` first, ties by `id`."""

    @property
    def id(self) -> str: ...

    @property
    def created_at(self) -> datetime: ...


P = TypeVar("P", bound=Positioned)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None

    @classmethod
    def of_rows(cls, rows: Sequence[P], limit: int) -> Page[P]:
        """The page of `rows`, fetched as `limit + 1` (the extra row only says a next page
        exists): at most `limit` items, and the cursor of the last one when there is more."""
        items = list(rows[:limit])
        more = len(rows) > limit
        last = items[-1] if more and items else None
        next_cursor = encode_cursor(Cursor(last.created_at, last.id)) if last else None
        return Page(items=items, next_cursor=next_cursor)

    def map(self, convert: Callable[[T], U]) -> Page[U]:
        """The same page with every item converted (entities to DTOs, DTOs to responses)."""
        return Page(items=[convert(item) for item in self.items], next_cursor=self.next_cursor)


def encode_cursor(cursor: Cursor) -> str:
    raw = json.dumps({"t": cursor.created_at.isoformat(), "i": cursor.id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(value: str) -> Cursor:
    try:
        data = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        created_at = datetime.fromisoformat(data["t"])
        item_id = data["i"]
    except (binascii.Error, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        raise InvalidCursorError("The cursor is not one this API returned") from error
    if created_at.tzinfo is None or not isinstance(item_id, str):
        raise InvalidCursorError("The cursor is not one this API returned")
    return Cursor(created_at=created_at, id=item_id)
