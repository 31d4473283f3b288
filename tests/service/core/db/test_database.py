"""Index bootstrap against the real database: idempotent across restarts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from pymongo import ASCENDING, DESCENDING, IndexModel

from service.core.config import Settings
from service.core.db.database import Database, build_mongo_client, ensure_indexes

PLAN = {
    "things": [
        IndexModel([("key", ASCENDING)], name="key_unique", unique=True),
        IndexModel([("owner", ASCENDING), ("created_at", DESCENDING)], name="owner_created"),
        IndexModel([("state", ASCENDING)], name="state"),
    ]
}


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    client = build_mongo_client(settings)
    db = client.get_database(f"{settings.mongodb_db}_idx_{uuid.uuid4().hex[:6]}")
    yield db
    await client.drop_database(db.name)
    await client.close()


async def test_indexes_are_created_and_a_second_start_up_changes_nothing(
    database: Database,
) -> None:
    await ensure_indexes(database, PLAN)
    await ensure_indexes(database, PLAN)  # a restart on existing data
    names = {index["name"] async for index in await database["things"].list_indexes()}
    assert names == {"_id_", "key_unique", "owner_created", "state"}


async def test_an_index_added_later_is_created_beside_the_existing_ones(
    database: Database,
) -> None:
    await ensure_indexes(database, {"things": PLAN["things"][:1]})
    await ensure_indexes(database, PLAN)
    names = {index["name"] async for index in await database["things"].list_indexes()}
    assert {"key_unique", "owner_created", "state"} <= names
