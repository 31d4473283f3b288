"""`python service/main.py create-admin`: creates or promotes, password from stdin only."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import httpx

from service.core.config import Settings
from tests.conftest import ROOT
from tests.service.app.users.conftest import API, login, new_email, register


def run_create_admin(
    settings: Settings, email: str, stdin: str
) -> subprocess.CompletedProcess[str]:
    env = os.environ | {
        "MONGODB_URL": settings.mongodb_url,
        "MONGODB_DB": settings.mongodb_db,
        "REDIS_URL": settings.redis_url,
        "REDIS_KEY_PREFIX": settings.redis_key_prefix,
        "REDIS_CACHE_URL": settings.redis_cache_url or settings.redis_url,
    }
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "service" / "main.py"),
            "--env",
            "test",
            "create-admin",
            "--email",
            email,
        ],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


async def test_create_admin_creates_an_admin_from_stdin(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    email = new_email("cli")
    result = run_create_admin(settings, email, "a long admin passphrase\n")
    assert result.returncode == 0, result.stderr
    assert "created" in result.stdout
    assert "passphrase" not in result.stdout + result.stderr
    tokens = (await login(client, email, "a long admin passphrase")).json()
    listing = await client.get(
        f"{API}/users", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert listing.status_code == 200


async def test_create_admin_promotes_an_existing_account(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    user = await register(client)
    result = run_create_admin(settings, str(user["email"]), "")
    assert result.returncode == 0, result.stderr
    tokens = (await login(client, str(user["email"]))).json()
    me = await client.get(
        f"{API}/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.json()["role"] == "admin"


async def test_a_promotion_by_the_cli_is_seen_at_once_by_the_apis_cached_profile(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    """The CLI is its own process with its own container: its write must still invalidate what
    the API cached (before the fix its manager had no backend and dropped the invalidation, so
    the API served the old role for USER_CACHE_TTL)."""
    user = await register(client)
    tokens = (await login(client, str(user["email"]))).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    before = await client.get(f"{API}/users/me", headers=headers)
    assert before.json()["role"] == "user"
    assert (await client.get(f"{API}/users/me", headers=headers)).json()["role"] == "user"
    # In a thread: the API's event loop keeps running meanwhile (as a served API's does), so
    # its near cache reads the invalidations Redis pushes to it.
    result = await asyncio.to_thread(run_create_admin, settings, str(user["email"]), "")
    assert result.returncode == 0, result.stderr
    # The promotion ends the account's sessions; the next one reads the profile (cached).
    assert (await client.get(f"{API}/users/me", headers=headers)).status_code == 401
    tokens = (await login(client, str(user["email"]))).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    after = await client.get(f"{API}/users/me", headers=headers)
    assert after.json()["role"] == "admin"


def test_create_admin_refuses_a_weak_password(settings: Settings) -> None:
    result = run_create_admin(settings, new_email("cli"), "short\n")
    assert result.returncode == 2
    assert "at least 10" in result.stderr
