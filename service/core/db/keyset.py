"""Keyset pages, newest first, as one positive range on one index key: `page_key`.

Every paged document carries `page_key`: its `created_at` in epoch milliseconds (13 digits,
zero-padded) then `:` and its `_id`. The key is unique (it ends with the `_id`) and, compared
as a string, orders exactly as `(created_at, _id)`: the digits have one width, and BSON dates
hold milliseconds. The page after a position is `page_key < key(position)` sorted
`page_key desc`: one range on the key that follows the equality fields of a compound index
(`{owner_id: 1, page_key: -1}`), which DocumentDB serves as a single index scan starting at the
position, in the index's order, stopped by the limit. No negation (`$nor`, `$not`: no index
use on DocumentDB) and no `$or` of ranges (two scans and a merge).

The cursor clients hold is unchanged (`service/core/pagination.py`: `(created_at, id)`); the key
is derived from it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from pymongo import DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from service.core.db.database import Document
from service.core.pagination import Cursor

PAGE_KEY: Final = "page_key"
NEWEST_FIRST = [(PAGE_KEY, DESCENDING)]
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def page_key(created_at: datetime, item_id: str) -> str:
    """The document's position in newest-first order, as the `page_key` field stores it."""
    if created_at.tzinfo is None:
        raise ValueError("created_at must be timezone-aware")
    millis = (created_at - _EPOCH) // timedelta(milliseconds=1)
    return f"{millis:013d}:{item_id}"


def after_position(created_at: datetime, last_id: str) -> Document:
    """The filter of every row strictly after `(created_at, last_id)` in newest-first order."""
    return {PAGE_KEY: {"$lt": page_key(created_at, last_id)}}


async def newest_first_page(
    collection: AsyncCollection[Document],
    query: Document,
    *,
    limit: int,
    after: Cursor | None,
) -> list[Document]:
    if PAGE_KEY in query:
        raise ValueError("the page filter owns page_key")
    ranged = query if after is None else {**query, **after_position(after.created_at, after.id)}
    return await collection.find(ranged).sort(NEWEST_FIRST).limit(limit).to_list()
