"""The rolling deploy's window: `migrate` has run, the previous release's tasks still serve and
write documents in their shape (release-2026.12.01, c571da5: no `page_key`, no `expires_at`,
a status change that `$set`s the status alone). This release cannot see them until
`migrate --after-roll` converges them; a second run changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

import pytest

from service.app.files.adapter.output.repository import NEVER, MongoFileRepository
from service.app.files.domain.entity import StoredFile
from service.app.modules import MODULES
from service.app.users.adapter.output.mongo_user_repository import MongoUserRepository
from service.app.users.domain.ports import UserFilter
from service.app.users.domain.user import User
from service.core.config import Settings
from service.core.db.database import Database, Document
from service.core.db.migrations.runner import LEDGER, MigrationRunner
from service.core.pagination import Cursor, Page, decode_cursor
from service.core.schema import migration_plan
from tests.conftest import scratch_database
from tests.service.app.files.conftest import MovableClock
from tests.service.app.test_migrations import legacy_file, legacy_user
from tests.service.core.db.migrations.test_runner import at_once


class HasId(Protocol):
    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=HasId)
CONVERGING = ["users.0002_keyset_page_key", "files.0002_positive_ranges"]


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    async with scratch_database(settings, "roll") as db:
        yield db


async def previous_release_transition(
    database: Database, file_id: str, status: str, at: datetime
) -> None:
    """The previous release's `transition` (its ClaimedWrites): a claim in `file_writes`, then
    `$set` of the status, its timestamp and the next version; `expires_at` left as it was."""
    document = await database["files"].find_one({"_id": file_id}) or {}
    version = document["version"]
    changes: Document = {"status": status, "updated_at": at}
    if status == "available":
        changes["completed_at"] = at
    await database["file_writes"].insert_one(
        {"_id": f"{file_id}:{version}", "file_id": file_id, "changes": changes, "claimed_at": at}
    )
    await database["files"].update_one(
        {"_id": file_id, "version": version}, {"$set": {**changes, "version": version + 1}}
    )


async def every_page(fetch: Callable[[Cursor | None], Awaitable[Page[T]]]) -> list[str]:
    """The ids a client paging one item at a time sees, newest first."""
    seen: list[str] = []
    after: Cursor | None = None
    while True:
        page = await fetch(after)
        seen += [item.id for item in page.items]
        if page.next_cursor is None:
            return seen
        after = decode_cursor(page.next_cursor)


async def snapshot(database: Database) -> list[Document]:
    return [
        row for name in ("users", "files") async for row in database[name].find({}).sort("_id", 1)
    ]


async def test_what_the_previous_release_writes_during_the_roll_is_seen_after_the_after_roll_run(
    database: Database,
) -> None:
    plan = migration_plan(MODULES)
    await MigrationRunner(database).run(plan)  # the deploy's `migrate`, before the roll
    clock = MovableClock()
    users, files = MongoUserRepository(database, clock), MongoFileRepository(database, clock)
    now = clock.now()

    # The roll: new tasks register an account and create a pending upload, an old one completes
    # it; old tasks register an account and start (and complete) uploads of their own.
    await users.add(users.from_document(legacy_user(2, now - timedelta(seconds=9))))
    await users.add(users.from_document(legacy_user(3, now - timedelta(seconds=8))))
    await database["users"].insert_one(legacy_user(1, now - timedelta(seconds=1)))
    mine = files.from_document(legacy_file(1, "owner", "pending", now - timedelta(seconds=3)))
    await files.add(mine)
    await previous_release_transition(database, mine.id, "available", now)
    await database["files"].insert_many(
        [
            legacy_file(2, "owner", "pending", now - timedelta(seconds=2)),
            legacy_file(3, "owner", "pending", now - timedelta(seconds=1)),
        ]
    )
    await previous_release_transition(database, "f0003", "available", now)

    def accounts(after: Cursor | None) -> Awaitable[Page[User]]:
        return users.list(limit=1, after=after, where=UserFilter())

    def owned(after: Cursor | None) -> Awaitable[Page[StoredFile]]:
        return files.list_owned("owner", limit=1, after=after)

    # This release: the old account is on no page (by id it is there), the old uploads are
    # nowhere, and the file it created turns invisible at its upload deadline (then the TTL
    # index removes it).
    account, second, third = (str(uuid.UUID(int=i)) for i in (1, 2, 3))
    assert await every_page(accounts) == [third, second]
    assert (await users.get(account)) is not None
    assert await every_page(owned) == [mine.id]
    assert await files.get_owned("owner", "f0002") is None
    assert await files.get_owned("owner", "f0003") is None
    later = MovableClock()
    later.move_past(mine.upload_expires_at)
    assert await MongoFileRepository(database, later).get_owned("owner", mine.id) is None

    report = await MigrationRunner(database).converge(plan)  # `migrate --after-roll`
    assert report.converged == CONVERGING

    assert await every_page(accounts) == [account, third, second]  # newest first
    assert await every_page(owned) == ["f0003", "f0002", mine.id]
    assert (await MongoFileRepository(database, later).get_owned("owner", mine.id)) is not None
    pending = await database["files"].find_one({"_id": "f0002"}) or {}
    assert pending["expires_at"] == pending["upload_expires_at"]  # the TTL's and sweep's again
    assert (await database["files"].find_one({"_id": "f0003"}) or {})["expires_at"] == NEVER

    # The next run finds nothing left: no document changes.
    before = await snapshot(database)
    again = await MigrationRunner(database).converge(plan)
    assert again.converged == CONVERGING
    assert await snapshot(database) == before


async def test_two_after_roll_tasks_at_once_converge_once(database: Database) -> None:
    plan = migration_plan(MODULES)
    await MigrationRunner(database).run(plan)
    await database["users"].insert_one(legacy_user(1, MovableClock().now()))
    reports = await at_once(database, lambda runner: runner.converge(plan))
    assert sorted(report.converged for report in reports) == [[], CONVERGING]
    ledger = {row["_id"]: row async for row in database[LEDGER].find({"_id": {"$in": CONVERGING}})}
    assert [ledger[step]["convergences"] for step in CONVERGING] == [1, 1]
    user = await database["users"].find_one({"_id": str(uuid.UUID(int=1))}) or {}
    assert user.get("page_key") is not None
