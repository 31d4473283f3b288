"""Keyset pages, newest first: `(created_at desc, _id desc)`, strictly after a position.

Each page is one query. The position is one range on the index's leading field
(`created_at <= t`), which DocumentDB and MongoDB turn into a single scan of
`{..., created_at: -1, _id: -1}` starting at `t`, in the index's order (no sort stage, the
limit stops the scan). The rows tied at `t` that were already served are dropped by a `$nor`
residual filter, which no planner uses for index bounds: the textbook
`$or: [{created_at < t}, {created_at: t, _id < i}]` asks the planner for two index scans and a
merge, which DocumentDB's planner does not do well.
"""

from __future__ import annotations

from datetime import datetime

from pymongo import DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from service.core.db.database import Document
from service.core.pagination import Cursor

NEWEST_FIRST = [("created_at", DESCENDING), ("_id", DESCENDING)]


def after_position(created_at: datetime, last_id: str) -> Document:
    """The filter of every row strictly after `(created_at, last_id)` in newest-first order."""
    # BSON dates hold milliseconds: compare ties as the database stored them.
    at = created_at.replace(microsecond=created_at.microsecond // 1000 * 1000)
    return {"created_at": {"$lte": at}, "$nor": [{"created_at": at, "_id": {"$gte": last_id}}]}


async def newest_first_page(
    collection: AsyncCollection[Document],
    query: Document,
    *,
    limit: int,
    after: Cursor | None,
) -> list[Document]:
    if "created_at" in query or "$nor" in query:
        raise ValueError("the page filter owns created_at and $nor")
    ranged = query if after is None else {**query, **after_position(after.created_at, after.id)}
    return await collection.find(ranged).sort(NEWEST_FIRST).limit(limit).to_list()
