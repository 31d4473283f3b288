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
    to_document,
)
from service.app.users.application.dto import UserDTO
from service.app.users.application.user_service import encode_cursor
from service.app.users.domain.user import Role, User
from service.core.db.database import ensure_indexes
from service.core.db.mixins.timestamp import utcnow
from service.core.helpers.password import PasswordHasher

LUA_REPORT = Path(__file__).resolve().parent / "wrk_report.lua"


@dataclass(frozen=True)
class Seeded:
    password: str
    admin_email: str
    user_email: str
    user_id: str
    ids: list[str]
    miss_script: Path
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


def write_miss_script(ids: list[str], path: Path) -> Path:
    """A wrk script that asks for a different user on every request, in order."""
    quoted = ",".join(f'"{i}"' for i in ids)
    path.write_text(
        f"dofile({str(LUA_REPORT)!r})\n"
        f"local ids = {{{quoted}}}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i + 1\n"
        '  return wrk.format(nil, "/api/v1/users/" .. ids[(i % #ids) + 1])\n'
        "end\n"
    )
    return path


async def seed_users(env: dict[str, str], count: int, results_dir: Path, depth: int = 0) -> Seeded:
    password = "bench-password-1"  # noqa: S105 - a throwaway local benchmark account
    # One real argon2id hash for everybody: 20,000 hashes would take minutes and prove nothing.
    password_hash = PasswordHasher().hash_sync(password)
    # Millisecond timestamps, as MongoDB stores them: the deep cursor equals a stored position.
    start = utcnow() - timedelta(days=1)
    users = [
        _user(i, Role.ADMIN if i == 0 else Role.USER, password_hash, start + timedelta(seconds=i))
        for i in range(count)
    ]
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(env["MONGODB_URL"])
    try:
        collection = client[env["MONGODB_DB"]][COLLECTION]
        await ensure_indexes(client[env["MONGODB_DB"]], {COLLECTION: USER_INDEXES})
        for offset in range(0, count, 1000):
            await collection.insert_many([to_document(u) for u in users[offset : offset + 1000]])
    finally:
        await client.close()
    ids = [u.id for u in users[1:]]
    # The listing is newest first: the page `depth` users deep starts after the user at
    # position depth - 1, and its cursor is exactly the one the API would have returned there.
    newest_first = users[::-1]
    after = newest_first[max(depth, 1) - 1]
    return Seeded(
        password=password,
        admin_email=users[0].email,
        user_email=users[1].email,
        user_id=users[1].id,
        ids=ids,
        miss_script=write_miss_script(ids, results_dir / "miss.lua"),
        deep_cursor=encode_cursor(UserDTO.from_user(after)),
        deep_first_email=newest_first[min(depth, count - 1)].email,
    )
