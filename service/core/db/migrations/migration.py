"""One migration step and the builders of the usual ones (indexes created or dropped, a
backfill over a collection in `_id` order).

A step must be safe to apply again after a failure part-way (the runner retries a failed step
on its next run): index creation skips an index that already exists with the same keys, a drop
skips one that is gone, a backfill touches only what it has not changed yet.

A step that gives documents a shape the previous release does not write (a key it omits, a field
it leaves behind) is marked `converges_previous_release`: during a rolling deploy that release's
tasks keep writing after `migrate`, so `migrate --after-roll` applies the step once more when the
services have rolled (runner.py). Such a step must be idempotent and batched, like a backfill.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from pymongo import ASCENDING, IndexModel, UpdateOne

from service.core.db.database import Database, Document

logger = logging.getLogger(__name__)

Apply = Callable[[Database], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Migration:
    """`id`: `<owner>.<nnnn>_<what>`, unique and never renamed (the ledger's key); steps run in
    the order their owners list them, core's first. `converges_previous_release`: applied again
    by every `migrate --after-roll`, to bring what the previous release's tasks wrote during the
    roll into this step's shape (the flag may be dropped once no environment can run, or roll
    back to, a release that writes the old shape)."""

    id: str
    apply: Apply
    description: str = ""
    converges_previous_release: bool = False


def in_order(*steps: Apply) -> Apply:
    async def apply(database: Database) -> None:
        for step in steps:
            await step(database)

    return apply


def create_indexes(collection: str, models: Sequence[IndexModel]) -> Apply:
    """Create each index unless one of its name with the same keys exists (one `createIndexes`
    per index: DocumentDB builds one index of a collection at a time, and a failure names it)."""

    async def apply(database: Database) -> None:
        existing = {
            index["name"]: dict(index["key"])
            async for index in await database[collection].list_indexes()
        }
        for model in models:
            name, keys = model.document["name"], dict(model.document["key"])
            if name in existing:
                if existing[name] != keys:
                    raise ValueError(f"{collection}.{name} exists with other keys: a new name")
                continue
            await database[collection].create_indexes([model])
            logger.info("index created", extra={"collection": collection, "index": name})

    return apply


def drop_indexes(collection: str, names: Sequence[str]) -> Apply:
    """Drop retired indexes (those already gone are skipped)."""

    async def apply(database: Database) -> None:
        existing = {index["name"] async for index in await database[collection].list_indexes()}
        for name in names:
            if name in existing:
                await database[collection].drop_index(name)
                logger.info("index dropped", extra={"collection": collection, "index": name})

    return apply


Change = Callable[[Document], Document | None]


def backfill(
    collection: str, change: Change, *, batch: int = 500, fields: Sequence[str] | None = None
) -> Apply:
    """Walk `collection` in `_id` order (one positive range per batch, on the `_id` index) and
    `$set` what `change(document)` returns for it (None: nothing to change). `fields`: only
    those are read (a converging step walks the whole collection on every deploy)."""
    projection = dict.fromkeys(fields, 1) if fields is not None else None

    async def apply(database: Database) -> None:
        after: object | None = None
        changed = 0
        while True:
            query: Document = {} if after is None else {"_id": {"$gt": after}}
            documents = (
                await database[collection]
                .find(query, projection=projection)
                .sort([("_id", ASCENDING)])
                .limit(batch)
                .to_list()
            )
            if not documents:
                break
            writes = [
                UpdateOne({"_id": document["_id"]}, {"$set": values})
                for document in documents
                if (values := change(document))
            ]
            if writes:
                await database[collection].bulk_write(writes, ordered=False)
                changed += len(writes)
            after = documents[-1]["_id"]
        logger.info("backfilled", extra={"collection": collection, "documents": changed})

    return apply
