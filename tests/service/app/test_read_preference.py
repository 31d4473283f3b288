"""Which reads may lag: with the production read preference (`secondaryPreferred`), the reads
that decide a write or answer right after one select the primary; only listings and sweep scans
may go to a replica.

Observed through PyMongo's server-selection log (what the driver selects for each command),
since a standalone local server accepts any read preference and the wire shows none.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest

from service.app.files.adapter.output.repository import MongoFileQuota, MongoFileRepository
from service.app.files.domain.entity import FileStatus, StoredFile, new_file_id, object_key
from service.app.users.adapter.output.mongo_user_repository import MongoUserRepository
from service.app.users.domain.ports import UserFilter
from service.app.users.domain.user import Role, User
from service.core.clock import SystemClock
from service.core.config import Settings
from service.core.db.database import Database, build_mongo_client
from service.core.exceptions import VersionMismatchError
from tests.conftest import make_test_settings

SELECTION = logging.getLogger("pymongo.serverSelection")


class _Selections(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.reads: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        entry = json.loads(record.getMessage())
        if entry.get("message") != "Server selection started":
            return
        selector = str(entry.get("selector"))
        if "writable_server_selector" in selector:
            return  # writes always go to the primary
        self.reads.append((entry["operation"], selector.partition("(")[0]))


@contextmanager
def reads() -> Iterator[list[tuple[str, str]]]:
    """(command, read preference) of every read sent inside the block."""
    handler = _Selections()
    level = SELECTION.level
    SELECTION.setLevel(logging.DEBUG)
    SELECTION.addHandler(handler)
    try:
        yield handler.reads
    finally:
        SELECTION.removeHandler(handler)
        SELECTION.setLevel(level)


@pytest.fixture(scope="module")
async def database(stack_env: dict[str, str], run_id: str) -> AsyncIterator[Database]:
    settings: Settings = make_test_settings(
        stack_env,
        run_id,
        mongodb_db=f"test_{run_id}_readpref",
        mongodb_read_preference="secondaryPreferred",
    )
    client = build_mongo_client(settings)
    yield client.get_database(settings.mongodb_db)
    await client.drop_database(settings.mongodb_db)
    await client.close()


def new_user() -> User:
    email = f"rp-{uuid.uuid4().hex[:10]}@example.com"
    return User.new(
        id=str(uuid.uuid4()),
        email=email,
        full_name="Read Preference",
        password_hash=None,
        role=Role.USER,
        is_verified=False,
        now=SystemClock().now(),
        cognito_sub=f"sub-{uuid.uuid4().hex}",
    )


PRIMARY = "Primary"
LAGGING = "SecondaryPreferred"


async def test_the_client_reads_with_the_configured_preference(database: Database) -> None:
    with reads() as sent:
        await database["users"].find_one({"_id": "nobody"})
    assert sent == [("find", LAGGING)]


async def test_user_reads_that_decide_or_follow_a_write_use_the_primary(
    database: Database,
) -> None:
    users = MongoUserRepository(database, SystemClock())
    user = new_user()
    await users.add(user)
    with reads() as sent:
        await users.get(user.id)
        await users.get_by_email(user.email_normalized)
        assert user.cognito_sub is not None
        await users.get_by_cognito_sub(user.cognito_sub)
        await users.update(user.id, {"full_name": "New"}, expected_version=1)
        with pytest.raises(VersionMismatchError):  # the read telling "changed" from "gone"
            await users.update(user.id, {"full_name": "Lost"}, expected_version=1)
    assert sent == [("find", PRIMARY)] * 4

    with reads() as sent:
        await users.list(limit=10, after=None, where=UserFilter())
        await users.delete_unverified_created_before(SystemClock().now() - timedelta(days=1))
    assert sent == [("find", LAGGING)] * 2


async def test_file_reads_that_decide_or_follow_a_write_use_the_primary(
    database: Database,
) -> None:
    clock = SystemClock()
    files, quota = MongoFileRepository(database, clock), MongoFileQuota(database, clock)
    owner, now = f"owner-{uuid.uuid4().hex[:8]}", clock.now()
    file_id = new_file_id()
    await files.add(
        StoredFile(
            id=file_id,
            owner_id=owner,
            filename="a.txt",
            content_type="text/plain",
            size=1,
            key=object_key(owner, file_id),
            status=FileStatus.PENDING,
            version=1,
            created_at=now,
            updated_at=now,
            upload_expires_at=now + timedelta(minutes=5),
        )
    )
    limits = {"max_count": 1, "max_bytes": 10}
    until = now + timedelta(minutes=5)
    with reads() as sent:
        await files.get(file_id)
        await files.get_owned(owner, file_id)
        await quota.reserve(owner, file_id=file_id, size=1, until=until, **limits)
        # Refused: the read that names the verdict.
        await quota.reserve(owner, file_id=new_file_id(), size=1, until=until, **limits)
    assert sent == [("find", PRIMARY)] * 3

    with reads() as sent:
        await files.list_owned(owner, limit=10, after=None)
        await files.abandoned(now=now, limit=10)
    assert sent == [("find", LAGGING)] * 2
