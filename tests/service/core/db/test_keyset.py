"""Keyset pages against the real database, with many rows sharing one timestamp."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import AsyncMongoClient, monitoring

from service.core.config import Settings
from service.core.db.database import Database, Document
from service.core.db.keyset import newest_first_page, page_key
from service.core.pagination import Cursor
from tests.conftest import scratch_database


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    async with scratch_database(settings, "keyset") as db:
        yield db


def row(item_id: str, created_at: datetime, **fields: object) -> dict[str, object]:
    """A paged document as the repositories write it: with its `page_key`."""
    return {
        "_id": item_id,
        "created_at": created_at,
        "page_key": page_key(created_at, item_id),
        **fields,
    }


async def walk(database: Database, limit: int, query: dict[str, object]) -> list[str]:
    seen: list[str] = []
    after = None
    while True:
        page = await newest_first_page(database["items"], query, limit=limit, after=after)
        seen += [row["_id"] for row in page]
        if len(page) < limit:
            return seen
        after = Cursor(page[-1]["created_at"], page[-1]["_id"])


@pytest.mark.parametrize("limit", [1, 3, 4, 50])
async def test_pages_visit_every_row_once_in_order_even_across_ties(
    database: Database, limit: int
) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [row(f"a{i:02d}", base + timedelta(seconds=i), k=i % 2) for i in range(6)]
    # seven rows share one timestamp: pages must split them without repeating or losing any
    rows += [row(f"t{i:02d}", base + timedelta(seconds=3), k=i % 2) for i in range(7)]
    await database["items"].insert_many(rows)
    expected = [
        row["_id"] for row in sorted(rows, key=lambda r: (r["created_at"], r["_id"]), reverse=True)
    ]
    assert await walk(database, limit, {}) == expected
    odd = [i for i in expected if next(r for r in rows if r["_id"] == i)["k"] == 1]
    assert await walk(database, limit, {"k": 1}) == odd


async def test_the_page_filter_owns_page_key(database: Database) -> None:
    with pytest.raises(ValueError, match="page_key"):
        await newest_first_page(database["items"], {"page_key": 1}, limit=1, after=None)


def test_the_key_orders_as_created_at_then_id() -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    positions = [(base + timedelta(milliseconds=ms), i) for ms in (0, 1, 999, 1000) for i in "ab"]
    positions.append((datetime(1999, 1, 1, tzinfo=UTC), "z"))  # fewer digits of millis
    keys = [page_key(at, i) for at, i in positions]
    assert sorted(keys) == [page_key(at, i) for at, i in sorted(positions)]


async def test_a_position_finer_than_milliseconds_matches_the_stored_row(
    database: Database,
) -> None:
    base = datetime(2026, 1, 1, 12, 0, 0, 123000, tzinfo=UTC)
    await database["items"].insert_many(
        [row(f"r{i}", base - timedelta(seconds=i)) for i in range(3)]
    )
    after = Cursor(base.replace(microsecond=123456), "r0")  # the row r0, in microseconds
    page = await newest_first_page(database["items"], {}, limit=5, after=after)
    assert [row["_id"] for row in page] == ["r1", "r2"]


class _Finds(monitoring.CommandListener):
    def __init__(self) -> None:
        self.finds = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.finds += event.command_name in ("find", "getMore")

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def test_every_page_is_one_query_even_across_ties(
    database: Database, settings: Settings
) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    ids = [f"t{i:02d}" for i in range(12)]
    rows = [row(i, base) for i in ids]
    await database["items"].insert_many(rows)
    listener = _Finds()
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        settings.mongodb_client_url(), event_listeners=[listener], tz_aware=True
    )
    try:
        items = client[database.name]["items"]
        pages = 0
        after = None
        seen: list[str] = []
        while True:
            page = await newest_first_page(items, {}, limit=2, after=after)
            pages += 1
            seen += [row["_id"] for row in page]
            if len(page) < 2:
                break
            after = Cursor(page[-1]["created_at"], page[-1]["_id"])
    finally:
        await client.close()
    assert seen == sorted(ids, reverse=True)
    assert listener.finds == pages  # one round trip per page, however many rows tie
