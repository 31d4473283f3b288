"""/api/v1/users: profile with ETag/If-Match, admin listing and administration."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from scripts.stack import free_port, start_redis
from service.app.users.container import UsersContainer
from service.core.container import CoreContainer
from tests.conftest import make_test_settings, private_app
from tests.service.app.users.conftest import (
    API,
    PASSWORD,
    Account,
    login,
    new_email,
    register,
    signed_in,
)
from tests.service.core.test_pagination import BAD_CURSORS


async def test_me_returns_the_caller_with_an_etag(
    client: httpx.AsyncClient, account: Account
) -> None:
    response = await client.get(f"{API}/users/me", headers=account.headers)
    assert response.status_code == 200
    assert response.json()["email"] == account.email
    assert response.headers["etag"] == '"1"'


async def test_me_cache_hit_does_not_touch_mongodb(
    app: FastAPI, client: httpx.AsyncClient, account: Account
) -> None:
    first = await client.get(f"{API}/users/me", headers=account.headers)
    # Change the stored document behind the API's back: a hit still serves the cached copy.
    database = await app.state.container.resolve(CoreContainer.database)
    await database["users"].update_one({"_id": account.id}, {"$set": {"full_name": "Sneaked"}})
    second = await client.get(f"{API}/users/me", headers=account.headers)
    assert second.json() == first.json()
    # A write through the API invalidates the user's tag.
    patch = await client.patch(
        f"{API}/users/me",
        json={"full_name": "Renamed"},
        headers=account.headers | {"If-Match": first.headers["etag"]},
    )
    assert patch.status_code == 200
    third = await client.get(f"{API}/users/me", headers=account.headers)
    assert third.json()["full_name"] == "Renamed"
    assert third.headers["etag"] == '"2"'


async def test_me_without_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/users/me")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_patch_me_with_stale_etag_is_412(client: httpx.AsyncClient, account: Account) -> None:
    ok = await client.patch(
        f"{API}/users/me", json={"full_name": "One"}, headers=account.headers | {"If-Match": '"1"'}
    )
    assert ok.status_code == 200
    assert ok.headers["etag"] == '"2"'
    stale = await client.patch(
        f"{API}/users/me", json={"full_name": "Two"}, headers=account.headers | {"If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert stale.json()["code"] == "version_mismatch"


async def test_patch_me_requires_if_match_as_the_document_says(
    client: httpx.AsyncClient, account: Account
) -> None:
    response = await client.patch(
        f"{API}/users/me", json={"full_name": "X"}, headers=account.headers
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert "If-Match" in response.text
    document = (await client.get("/openapi.json")).json()
    parameters = document["paths"][f"{API}/users/me"]["patch"]["parameters"]
    if_match = next(p for p in parameters if p["name"] == "If-Match")
    assert (if_match["in"], if_match["required"]) == ("header", True)


async def test_patch_me_changes_the_password_and_ends_sessions(
    client: httpx.AsyncClient, account: Account
) -> None:
    response = await client.patch(
        f"{API}/users/me",
        json={"current_password": PASSWORD, "new_password": "another long password"},
        headers=account.headers | {"If-Match": '"1"'},
    )
    assert response.status_code == 200
    assert (await client.get(f"{API}/users/me", headers=account.headers)).status_code == 401
    assert (await login(client, account.email, "another long password")).status_code == 200


async def test_patch_me_with_wrong_current_password_is_401(
    client: httpx.AsyncClient, account: Account
) -> None:
    response = await client.patch(
        f"{API}/users/me",
        json={"current_password": "not my password", "new_password": "another long password"},
        headers=account.headers | {"If-Match": '"1"'},
    )
    assert response.status_code == 401
    assert response.json()["code"] == "wrong_current_password"


async def test_patch_me_with_weak_new_password_is_422(
    client: httpx.AsyncClient, account: Account
) -> None:
    response = await client.patch(
        f"{API}/users/me",
        json={"current_password": PASSWORD, "new_password": "short"},
        headers=account.headers | {"If-Match": '"1"'},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"  # the schema's minLength says so
    same_as_email = await client.patch(
        f"{API}/users/me",
        json={"current_password": PASSWORD, "new_password": account.email},
        headers=account.headers | {"If-Match": '"1"'},
    )
    assert same_as_email.status_code == 422
    assert same_as_email.json()["code"] == "weak_password"  # what no schema can say


async def test_list_users_pages_with_a_cursor_and_filters(
    client: httpx.AsyncClient, admin: Account
) -> None:
    prefix = new_email("page").split("@")[0]
    created = [await register(client, f"{prefix}-{i}@example.com") for i in range(5)]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 2, "email_prefix": prefix.upper()}
        if cursor:
            params["cursor"] = cursor
        page = await client.get(f"{API}/users", params=params, headers=admin.headers)
        assert page.status_code == 200, page.text
        body = page.json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [str(u["id"]) for u in reversed(created)]  # newest first, no repeats
    admins = await client.get(f"{API}/users", params={"role": "admin"}, headers=admin.headers)
    assert {u["role"] for u in admins.json()["items"]} == {"admin"}


async def test_list_users_with_a_bad_cursor_is_a_400_problem(
    client: httpx.AsyncClient, admin: Account
) -> None:
    for cursor in BAD_CURSORS:
        response = await client.get(
            f"{API}/users", params={"cursor": cursor}, headers=admin.headers
        )
        assert response.status_code == 400, cursor
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "invalid_cursor"


async def test_list_users_with_a_bad_limit_is_422(
    client: httpx.AsyncClient, admin: Account
) -> None:
    response = await client.get(f"{API}/users", params={"limit": 0}, headers=admin.headers)
    assert response.status_code == 422


async def test_list_users_is_for_admins_only(client: httpx.AsyncClient, account: Account) -> None:
    response = await client.get(f"{API}/users", headers=account.headers)
    assert response.status_code == 403
    assert response.json()["code"] == "admin_required"


async def test_admin_changes_role_and_status(
    client: httpx.AsyncClient, admin: Account, account: Account
) -> None:
    response = await client.patch(
        f"{API}/users/{account.id}", json={"role": "admin"}, headers=admin.headers
    )
    assert response.status_code == 200
    assert response.json()["role"] == "admin"
    stale = await client.patch(
        f"{API}/users/{account.id}",
        json={"is_active": False},
        headers=admin.headers | {"If-Match": '"1"'},
    )
    assert stale.status_code == 412
    missing = await client.patch(
        f"{API}/users/no-such-user", json={"is_active": False}, headers=admin.headers
    )
    assert missing.status_code == 404
    assert missing.json()["code"] == "user_not_found"


async def test_admin_deletes_a_user(
    client: httpx.AsyncClient, admin: Account, account: Account
) -> None:
    response = await client.delete(f"{API}/users/{account.id}", headers=admin.headers)
    assert response.status_code == 204
    assert (await client.get(f"{API}/users/{account.id}", headers=admin.headers)).status_code == 404
    assert (await client.get(f"{API}/users/me", headers=account.headers)).status_code == 401
    again = await client.delete(f"{API}/users/{account.id}", headers=admin.headers)
    assert again.status_code == 404


async def test_fifty_concurrent_registrations_of_one_email(client: httpx.AsyncClient) -> None:
    local = new_email("race")
    variants = [
        "".join(c.upper() if (i >> (n % 8)) & 1 else c for n, c in enumerate(local))
        for i in range(50)
    ]
    responses = await asyncio.gather(
        *(
            client.post(
                f"{API}/auth/register",
                json={"email": email, "password": PASSWORD, "full_name": "Racer"},
            )
            for email in variants
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1, statuses
    assert statuses.count(409) == 49, statuses
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"email_taken"}


async def test_twenty_concurrent_patches_with_one_etag(client: httpx.AsyncClient) -> None:
    account = await signed_in(client)
    etag = (await client.get(f"{API}/users/me", headers=account.headers)).headers["etag"]
    responses = await asyncio.gather(
        *(
            client.patch(
                f"{API}/users/me",
                json={"full_name": f"Writer {i}"},
                headers=account.headers | {"If-Match": etag},
            )
            for i in range(20)
        )
    )
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 1, statuses
    assert statuses.count(412) == 19, statuses
    winner = next(r.json() for r in responses if r.status_code == 200)
    now = await client.get(f"{API}/users/me", headers=account.headers)
    assert now.json()["full_name"] == winner["full_name"]  # the one accepted write is kept
    assert now.headers["etag"] == '"2"'


@pytest.mark.parametrize(
    ("near_cache_entries", "expected"),
    # Without the near cache: two MGETs per request, one on each Redis role (auth state, never
    # evicted; the evictable cache), sent concurrently. Both roles share this one test server.
    [(10_000, {}), (0, {"cmdstat_mget": 20})],
    ids=["near-cache", "no-near-cache"],
)
async def test_a_cached_me_costs_one_round_trip_per_redis_or_none_from_the_near_cache(
    stack_env: dict[str, str],
    run_id: str,
    tmp_path: Path,
    near_cache_entries: int,
    expected: dict[str, int],
) -> None:
    """Revocation state and the cached profile are read in one MGET each, concurrently (the hot
    path); with the near caches holding those keys, a repeated read costs no round trip."""
    redis = start_redis(free_port(), tmp_path)
    settings = make_test_settings(
        stack_env,
        f"{run_id}-one-trip-{near_cache_entries}",
        redis_url=redis.url,
        redis_near_cache_max_entries=near_cache_entries,
    )
    try:
        async with private_app(settings) as (app, http):
            near_cache = app.state.container.provided(UsersContainer.auth_near_cache)
            assert await near_cache.wait_live() is bool(near_cache_entries)
            account = await signed_in(http)
            probe = Redis.from_url(redis.url)

            async def calls() -> dict[str, int]:
                stats = await probe.info("commandstats")
                return {
                    name: entry["calls"]
                    for name, entry in stats.items()
                    if name not in ("cmdstat_info", "cmdstat_ping")
                }

            # The first read stores the profile; the broadcast of that store may drop the copy
            # the next read made. Warm up until the keys stay (bounded).
            for _ in range(20):
                before = await calls()
                assert (
                    await http.get(f"{API}/users/me", headers=account.headers)
                ).status_code == 200
                if (await calls()).get("cmdstat_mget") == before.get("cmdstat_mget"):
                    break
                await asyncio.sleep(0.01)
            before = await calls()
            for _ in range(10):
                response = await http.get(f"{API}/users/me", headers=account.headers)
                assert response.status_code == 200
            after = await calls()
            await probe.aclose()
            spent = {name: n - before.get(name, 0) for name, n in after.items()}
            assert {name: n for name, n in spent.items() if n} == expected
    finally:
        redis.stop()
