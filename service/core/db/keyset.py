"""Keyset pages, newest first: `(created_at desc, _id desc)`, strictly after a position.

The position's filter is one range on the index's leading field (`created_at <= t`) rather than
the textbook `$or` over both fields: DocumentDB serves the range as one index scan from `t`
down, and FerretDB (which scans) evaluates one comparison per document instead of an `$or`.
The few rows that share the position's timestamp and were already served are skipped here.
"""

from __future__ import annotations

from datetime import datetime

from pymongo import DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from service.core.db.database import Document

NEWEST_FIRST = [("created_at", DESCENDING), ("_id", DESCENDING)]


async def newest_first_page(
    collection: AsyncCollection[Document],
    query: Document,
    *,
    limit: int,
    after: tuple[datetime, str] | None,
) -> list[Document]:
    if "created_at" in query:
        raise ValueError("the page filter owns created_at")
    if after is None:
        return await collection.find(query).sort(NEWEST_FIRST).limit(limit).to_list()
    created_at, last_id = after
    # BSON dates hold milliseconds: compare ties as the database stored them.
    created_at = created_at.replace(microsecond=created_at.microsecond // 1000 * 1000)
    ranged = {**query, "created_at": {"$lte": created_at}}
    # The row the position was taken from comes back first (unless deleted since): one extra.
    wanted = limit + 1
    while True:
        rows = await collection.find(ranged).sort(NEWEST_FIRST).limit(wanted).to_list()
        fresh = [r for r in rows if not (r["created_at"] == created_at and r["_id"] >= last_id)]
        if len(fresh) >= limit or len(rows) < wanted:
            return fresh[:limit]
        # Every skipped row tied with the position: ask again for that many more.
        wanted = limit + len(rows) - len(fresh)
