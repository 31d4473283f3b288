"""Seed the benchmark database with users shaped exactly as the users repository writes them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from pymongo import AsyncMongoClient

from service.app.users.adapter.output.mongo_user_repository import (
    COLLECTION,
    USER_INDEXES,
    MongoUserRepository,
)
from service.app.users.domain.user import Role, User
from service.core.clock import SystemClock
from service.core.db.database import Database, ensure_indexes
from service.core.helpers.password import PasswordHasher
from service.core.pagination import Cursor, encode_cursor

LUA_REPORT = Path(__file__).resolve().parent / "wrk_report.lua"


@dataclass(frozen=True)
class Seeded:
    password: str
    admin_email: str
    user_email: str
    user_id: str
    password_hash: str
    oldest: datetime
    ids: list[str]
    deep_cursor: str
    deep_first_email: str


def _user(index: int, role: Role, password_hash: str, at: datetime) -> User:
    return User.new(
        id=str(uuid.uuid4()),
        email=f"bench-{index:06d}@example.com",
        full_name=f"Bench User {index}",
        password_hash=password_hash,
        role=role,
        is_verified=True,
        now=at,
    )


def write_miss_script(ids: list[str], path: Path, prefix: str = "/api/v1/users/") -> Path:
    """A wrk script that asks for a different user on every request, in order (the ids are read
    from a file beside it: a Lua table literal of 200,000 strings is over LuaJIT's constants)."""
    id_file = path.with_suffix(".ids")
    id_file.write_text("\n".join(ids) + "\n")
    path.write_text(
        f"dofile({str(LUA_REPORT)!r})\n"
        "local ids = {}\n"
        f"for line in io.lines({str(id_file)!r}) do ids[#ids + 1] = line end\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i + 1\n"
        f'  return wrk.format(nil, "{prefix}" .. ids[(i % #ids) + 1])\n'
        "end\n"
    )
    return path


async def seed_users(env: dict[str, str], count: int, depth: int = 0) -> Seeded:
    password = "bench-password-1"  # noqa: S105 - a throwaway local benchmark account
    # One real argon2id hash for everybody: 20,000 hashes would take minutes and prove nothing.
    password_hash = PasswordHasher().hash_sync(password)
    # Millisecond timestamps, as MongoDB stores them: the deep cursor equals a stored position.
    start = SystemClock().now() - timedelta(days=1)
    users = [
        _user(i, Role.ADMIN if i == 0 else Role.USER, password_hash, start + timedelta(seconds=i))
        for i in range(count)
    ]
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(env["MONGODB_URL"])
    try:
        await ensure_indexes(client[env["MONGODB_DB"]], {COLLECTION: USER_INDEXES})
        await _insert(client[env["MONGODB_DB"]], users)
    finally:
        await client.close()
    ids = [u.id for u in users[1:]]
    # The listing is newest first: the page `depth` users deep starts after the user at
    # position depth - 1, and its cursor is exactly the one the API would have returned there.
    newest_first = users[::-1]
    after = newest_first[max(depth, 1) - 1]
    return Seeded(
        password=password,
        password_hash=password_hash,
        oldest=start,
        admin_email=users[0].email,
        user_email=users[1].email,
        user_id=users[1].id,
        ids=ids,
        deep_cursor=encode_cursor(Cursor(after.created_at, after.id)),
        deep_first_email=newest_first[min(depth, count - 1)].email,
    )


async def _insert(database: Database, users: list[User]) -> None:
    # Bulk, unordered batches: 200,000 users in well under a minute; each document exactly as
    # the service's repository writes it.
    repository = MongoUserRepository(database, SystemClock())
    for offset in range(0, len(users), 5000):
        batch = [repository.to_document(u) for u in users[offset : offset + 5000]]
        await database[COLLECTION].insert_many(batch, ordered=False)


async def seed_older_users(env: dict[str, str], seeded: Seeded, count: int) -> list[str]:
    """Add `count` users created before every seeded one: the newest pages stay the same rows
    (the same first page, the same page `depth` deep) in a larger collection."""
    users = [
        _user(
            1_000_000 + i, Role.USER, seeded.password_hash, seeded.oldest - timedelta(seconds=i + 1)
        )
        for i in range(count)
    ]
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(env["MONGODB_URL"])
    try:
        await _insert(client[env["MONGODB_DB"]], users)
    finally:
        await client.close()
    return [u.id for u in users]
