"""The migration steps against the real database: indexes created, checked and retired, a
backfill that touches only what it has not changed yet; each safe to apply again."""

from __future__ import annotations

import pytest
from pymongo import ASCENDING, DESCENDING, IndexModel

from service.core.db.database import Database, missing_indexes
from service.core.db.migrations.migration import backfill, create_indexes, drop_indexes

PLAN = {
    "things": [
        IndexModel([("key", ASCENDING)], name="key_unique", unique=True),
        IndexModel([("owner", ASCENDING), ("created_at", DESCENDING)], name="owner_created"),
        IndexModel([("state", ASCENDING)], name="state"),
    ]
}


async def names(database: Database) -> set[str]:
    return {index["name"] async for index in await database["things"].list_indexes()}


async def test_created_indexes_are_no_longer_missing_and_a_second_run_changes_nothing(
    database: Database,
) -> None:
    await database["things"].insert_one({"_id": 1})
    assert await missing_indexes(database, PLAN) == [
        "things.key_unique",
        "things.owner_created",
        "things.state",
    ]
    await create_indexes("things", PLAN["things"])(database)
    await create_indexes("things", PLAN["things"])(database)
    assert await names(database) == {"_id_", "key_unique", "owner_created", "state"}
    assert await missing_indexes(database, PLAN) == []


async def test_an_index_of_the_same_name_with_other_keys_counts_as_missing_and_stops_a_step(
    database: Database,
) -> None:
    await database["things"].create_indexes([IndexModel([("other", ASCENDING)], name="state")])
    assert await missing_indexes(database, PLAN) == [
        "things.key_unique",
        "things.owner_created",
        "things.state",
    ]
    with pytest.raises(ValueError, match="state exists with other keys"):
        await create_indexes("things", PLAN["things"])(database)


async def test_retired_indexes_are_dropped_and_a_second_drop_changes_nothing(
    database: Database,
) -> None:
    await create_indexes("things", PLAN["things"])(database)
    await drop_indexes("things", ["state", "owner_created"])(database)
    await drop_indexes("things", ["state", "owner_created"])(database)
    assert await names(database) == {"_id_", "key_unique"}


async def test_a_backfill_visits_every_document_once_in_batches(database: Database) -> None:
    await database["things"].insert_many(
        [{"_id": f"t{i:03d}", "n": i} for i in range(23)] + [{"_id": "done", "twice": 0}]
    )

    def double(document: dict[str, object]) -> dict[str, object] | None:
        return None if "twice" in document else {"twice": 2 * int(str(document["n"]))}

    await backfill("things", double, batch=5)(database)
    await backfill("things", double, batch=5)(database)
    rows = await database["things"].find({}).sort("_id", ASCENDING).to_list()
    assert [row["twice"] for row in rows] == [0] + [2 * i for i in range(23)]
