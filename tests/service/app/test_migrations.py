"""The shipped migrations on a database the previous release wrote: the keyset and liveness
change (`*.0002`) converts existing documents, retires the old indexes, and the listings then
find every document."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest

from service.app.files.adapter.output.repository import NEVER, MongoFileRepository
from service.app.modules import MODULES
from service.app.server import index_plan
from service.app.users.adapter.output.mongo_user_repository import MongoUserRepository
from service.app.users.domain.ports import UserFilter
from service.core.clock import SystemClock
from service.core.config import Settings
from service.core.db.database import Database, missing_indexes
from service.core.db.keyset import page_key
from service.core.db.migrations.runner import MigrationRunner
from service.core.pagination import Cursor
from service.core.schema import migration_plan
from tests.conftest import scratch_database


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    async with scratch_database(settings, "upgrade") as db:
        yield db


def legacy_user(i: int, at: datetime) -> dict[str, object]:
    """An account as the previous release wrote it: no `page_key`."""
    return {
        "_id": str(uuid.UUID(int=i)),
        "email": f"u{i}@example.com",
        "email_normalized": f"u{i}@example.com",
        "full_name": "Old Account",
        "password_hash": None,
        "role": "user",
        "is_active": True,
        "is_verified": True,
        "version": 1,
        "created_at": at,
        "updated_at": at,
    }


def legacy_file(i: int, owner: str, status: str, at: datetime) -> dict[str, object]:
    """A file as the previous release (c571da5) wrote it: neither `page_key` nor `expires_at`."""
    document: dict[str, object] = {
        "_id": f"f{i:04d}",
        "owner_id": owner,
        "filename": f"{i}.txt",
        "content_type": "text/plain",
        "size": 5,
        "key": f"uploads/{owner}/f{i:04d}",
        "status": status,
        "version": 1,
        "created_at": at,
        "updated_at": at,
        "upload_expires_at": at + timedelta(hours=1),
        "completed_at": at if status == "available" else None,
        "rejection_reason": None,
        "sha256": None,
        "processed_at": None,
        "deleted_at": None,
    }
    return document


async def test_the_keyset_migrations_convert_what_the_previous_release_wrote(
    database: Database,
) -> None:
    plan = migration_plan(MODULES)
    before = [step for step in plan if step.id.endswith(("0001_indexes", "0001_ops_probe_indexes"))]
    await MigrationRunner(database).run(before)  # the indexes the previous release had
    now = SystemClock().now().replace(microsecond=0)
    await database["users"].insert_many(
        [legacy_user(i, now - timedelta(seconds=i)) for i in range(1, 8)]
    )
    await database["files"].insert_many(
        [
            legacy_file(i, "owner", "available" if i % 2 else "pending", now - timedelta(seconds=i))
            for i in range(1, 6)
        ]
    )

    report = await MigrationRunner(database).run(plan)
    assert report.applied == [
        "users.0002_keyset_page_key",
        "users.0003_security_events_indexes",
        "files.0002_positive_ranges",
    ]
    assert await missing_indexes(database, index_plan()) == []
    user_indexes = {index["name"] async for index in await database["users"].list_indexes()}
    assert not user_indexes & {"created_at_id", "role_created_at_id", "is_active_created_at_id"}
    file_indexes = {index["name"] async for index in await database["files"].list_indexes()}
    assert "owner_created" not in file_indexes

    async for user in database["users"].find({}).sort("_id", 1):
        assert user["page_key"] == page_key(user["created_at"], user["_id"])
    async for file in database["files"].find({}).sort("_id", 1):
        assert file["page_key"] == page_key(file["created_at"], file["_id"])
        if file["status"] == "pending":
            assert file["expires_at"] == file["upload_expires_at"]
        else:
            assert file["expires_at"] == NEVER

    # The listings find every converted document, newest first, across pages.
    users = MongoUserRepository(database, SystemClock())
    first = await users.list(limit=4, after=None, where=UserFilter())
    last = first.items[-1]
    rest = await users.list(limit=10, after=Cursor(last.created_at, last.id), where=UserFilter())
    listed = [u.id for u in first.items + rest.items]
    assert listed == [str(uuid.UUID(int=i)) for i in range(1, 8)]
    owned = await MongoFileRepository(database, SystemClock()).list_owned(
        "owner", limit=10, after=None
    )
    assert [f.id for f in owned.items] == [f"f{i:04d}" for i in range(1, 6)]
