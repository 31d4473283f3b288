"""Claimed writes against the real FerretDB, whose own conditional updates race."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from service.core.config import Settings
from service.core.db.claimed_writes import ClaimedWrites
from service.core.db.database import Database, build_mongo_client


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    client = build_mongo_client(settings)
    db = client.get_database(f"{settings.mongodb_db}_claims_{uuid.uuid4().hex[:6]}")
    yield db
    await client.drop_database(db.name)
    await client.close()


@pytest.fixture
def writes(database: Database) -> ClaimedWrites:
    return ClaimedWrites(database["things"], database["thing_writes"], owner_field="thing_id")


async def test_of_concurrent_writers_on_one_version_exactly_one_wins(
    database: Database, writes: ClaimedWrites
) -> None:
    await database["things"].insert_one({"_id": "t1", "version": 1, "owner": None})

    def at_version_one(document: dict[str, object]) -> bool:
        return document["version"] == 1

    results = await asyncio.gather(
        *(writes.write("t1", {"owner": f"w{i}"}, at_version_one) for i in range(20))
    )
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    final = await writes.current("t1")
    assert final is not None
    assert final["version"] == 2
    assert final["owner"].startswith("w")


async def test_writes_without_a_condition_all_land_in_some_order(
    database: Database, writes: ClaimedWrites
) -> None:
    await database["things"].insert_one({"_id": "t2", "version": 1})
    await asyncio.gather(*(writes.write("t2", {f"field{i}": i}) for i in range(10)))
    final = await writes.current("t2")
    assert final is not None
    assert final["version"] == 11
    assert all(final[f"field{i}"] == i for i in range(10))


async def test_a_claim_whose_update_never_landed_is_rolled_forward(
    database: Database, writes: ClaimedWrites
) -> None:
    await database["things"].insert_one({"_id": "t3", "version": 1, "state": "old"})
    # a writer that crashed between its claim and its update
    await database["thing_writes"].insert_one(
        {"_id": "t3:1", "thing_id": "t3", "changes": {"state": "new"}}
    )
    current = await writes.current("t3")
    assert current is not None
    assert (current["state"], current["version"]) == ("new", 2)


async def test_a_refused_or_missing_write_changes_nothing(
    database: Database, writes: ClaimedWrites
) -> None:
    await database["things"].insert_one({"_id": "t4", "version": 1})
    assert await writes.write("t4", {"x": 1}, lambda _: False) is None
    assert await writes.write("missing", {"x": 1}) is None
    current = await writes.current("t4")
    assert current == {"_id": "t4", "version": 1}
    await writes.forget(["t4"])
    assert await database["thing_writes"].count_documents({}) == 0
