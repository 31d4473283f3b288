"""The Mongo user repository against the local database server: the purge of unverified
accounts, conditional updates and keyset pages."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from fastapi import FastAPI

from service.app.users.adapter.output.mongo_user_repository import MongoUserRepository
from service.app.users.container import UsersContainer
from service.app.users.domain.errors import EmailTakenError
from service.app.users.domain.ports import UserFilter
from service.app.users.domain.user import Role, User, normalize_email
from service.core.clock import SystemClock
from service.core.exceptions import VersionMismatchError
from service.core.pagination import decode_cursor


def make_user(*, verified: bool, age: timedelta = timedelta(0), email: str | None = None) -> User:
    created = SystemClock().now() - age
    email = email or f"repo-{uuid.uuid4().hex[:10]}@example.com"
    return User(
        id=str(uuid.uuid4()),
        email=email,
        email_normalized=normalize_email(email),
        full_name="Repo",
        password_hash=None,
        role=Role.USER,
        is_active=True,
        is_verified=verified,
        created_at=created,
        updated_at=created,
    )


@pytest.fixture
async def repository(app: FastAPI) -> MongoUserRepository:
    repository: MongoUserRepository = await app.state.container.resolve(UsersContainer.repository)
    return repository


async def test_delete_unverified_created_before(repository: MongoUserRepository) -> None:
    old_unverified = make_user(verified=False, age=timedelta(days=10))
    old_verified = make_user(verified=True, age=timedelta(days=10))
    new_unverified = make_user(verified=False)
    for user in (old_unverified, old_verified, new_unverified):
        await repository.add(user)
    deleted = await repository.delete_unverified_created_before(
        SystemClock().now() - timedelta(days=7)
    )
    assert old_unverified.id in {user.id for user in deleted}
    assert not {old_verified.id, new_unverified.id} & {user.id for user in deleted}
    assert await repository.get(old_unverified.id) is None
    assert await repository.get(old_verified.id) is not None
    assert await repository.get(new_unverified.id) is not None


async def test_add_refuses_a_second_normalized_email(repository: MongoUserRepository) -> None:
    user = make_user(verified=False)
    await repository.add(user)
    with pytest.raises(EmailTakenError):
        await repository.add(make_user(verified=False, email=user.email.upper()))


async def test_update_is_conditional_on_the_version(repository: MongoUserRepository) -> None:
    user = make_user(verified=False)
    await repository.add(user)
    updated = await repository.update(user.id, {"full_name": "New"}, expected_version=1)
    assert updated.version == 2
    assert updated.updated_at >= user.updated_at
    with pytest.raises(VersionMismatchError):
        await repository.update(user.id, {"full_name": "Lost"}, expected_version=1)
    stored = await repository.get(user.id)
    assert stored is not None
    assert stored.full_name == "New"


async def test_keyset_page_breaks_created_at_ties_by_id(repository: MongoUserRepository) -> None:
    prefix = f"tie-{uuid.uuid4().hex[:8]}"
    same_time = SystemClock().now()
    users = []
    for i in range(4):
        user = make_user(verified=True, email=f"{prefix}-{i}@example.com")
        user.created_at = same_time
        users.append(user)
        await repository.add(user)
    where = UserFilter(email_prefix=prefix)
    first = await repository.list(limit=2, after=None, where=where)
    assert first.next_cursor is not None
    rest = await repository.list(limit=10, after=decode_cursor(first.next_cursor), where=where)
    assert rest.next_cursor is None
    ids = [u.id for u in first.items + rest.items]
    assert ids == sorted((u.id for u in users), reverse=True)


async def test_concurrent_conditional_updates_have_exactly_one_winner(
    repository: MongoUserRepository,
) -> None:
    """20 writers on one version: one conditional find_one_and_update wins, 19 get the conflict
    the API answers with 412."""
    for _ in range(5):
        user = make_user(verified=True)
        await repository.add(user)

        async def write(i: int, user_id: str = user.id) -> str | None:
            try:
                await repository.update(user_id, {"full_name": f"w{i}"}, expected_version=1)
            except VersionMismatchError:
                return None
            return f"w{i}"

        results = await asyncio.gather(*(write(i) for i in range(20)))
        winners = [r for r in results if r is not None]
        assert len(winners) == 1, results
        assert results.count(None) == 19
        stored = await repository.get(user.id)
        assert stored is not None
        assert (stored.full_name, stored.version) == (winners[0], 2)


async def test_concurrent_unconditional_updates_all_land(repository: MongoUserRepository) -> None:
    user = make_user(verified=True)
    await repository.add(user)
    await asyncio.gather(*(repository.update(user.id, {"full_name": f"w{i}"}) for i in range(10)))
    stored = await repository.get(user.id)
    assert stored is not None
    assert stored.version == 11
