"""Finding 3 and 5 of issue 22: the lock-out holds under concurrency, against a real uvicorn.

60 concurrent attempts on one account: at most `LOGIN_MAX_FAILURES` reach the password hasher
(counted from the server's own audit trail: every verification that ran writes a `login.*` or
`reauth.*` event, read back through the admin route) and nothing signs in past the limit.
Re-authentication (`current_password` on `PATCH /users/me`) counts in the same limit.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import served_api
from tests.service.app.users.conftest import API, PASSWORD, bearer, new_email

LIMIT = 5
BURST = 60
ADMIN_EMAIL = f"admin-{uuid.uuid4().hex[:8]}@example.com"
ADMIN_PASSWORD = "admin password for the burst"
VERIFIED = {
    "login.success",
    "login.failure",
    "login.disabled",
    "reauth.failure",
    "password.changed",
}


@pytest.fixture(scope="module")
def burst_api(
    stack_env: dict[str, str], run_id: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    log: Path = tmp_path_factory.mktemp("burst_api") / "api.log"
    with served_api(
        stack_env,
        run_id,
        log,
        MONGODB_DB=f"test_{run_id}_burst",
        REDIS_KEY_PREFIX=f"test:{run_id}:burst",
        LOGIN_MAX_FAILURES=str(LIMIT),
        BOOTSTRAP_ADMIN_EMAIL=ADMIN_EMAIL,
        BOOTSTRAP_ADMIN_PASSWORD=ADMIN_PASSWORD,
    ) as base:
        yield base


async def account_events(http: httpx.AsyncClient, user_id: str) -> Counter[str]:
    admin = await http.post(
        f"{API}/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert admin.status_code == 200, admin.text
    headers = bearer(admin.json()["access_token"])
    actions: Counter[str] = Counter()
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = await http.get(
            f"{API}/users/{user_id}/security-events", params=params, headers=headers
        )
        assert page.status_code == 200, page.text
        actions.update(item["action"] for item in page.json()["items"])
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return actions


async def new_account(http: httpx.AsyncClient) -> tuple[str, str]:
    email = new_email("burst")
    answer = await http.post(
        f"{API}/auth/register", json={"email": email, "password": PASSWORD, "full_name": "B"}
    )
    assert answer.status_code == 201, answer.text
    return email, answer.json()["id"]


async def login(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await http.post(f"{API}/auth/login", json={"email": email, "password": password})


async def test_sixty_concurrent_wrong_logins_verify_at_most_the_limit(burst_api: str) -> None:
    async with httpx.AsyncClient(base_url=burst_api, timeout=60) as http:
        email, user_id = await new_account(http)
        answers = await asyncio.gather(
            *(login(http, email, f"wrong password {i}") for i in range(BURST))
        )
        statuses = Counter(answer.status_code for answer in answers)
        assert statuses[401] <= LIMIT, statuses
        assert statuses[401] + statuses[429] == BURST, statuses
        # The right password after the limit: refused without a check.
        assert (await login(http, email, PASSWORD)).status_code == 429
        events = await account_events(http, user_id)
        verified = sum(events[action] for action in VERIFIED)
        assert verified <= LIMIT, events
        assert events["login.success"] == 0, events


async def test_the_right_password_inside_a_burst_gets_no_extra_guess(burst_api: str) -> None:
    async with httpx.AsyncClient(base_url=burst_api, timeout=60) as http:
        email, user_id = await new_account(http)
        passwords = [f"wrong password {i}" for i in range(BURST - 1)] + [PASSWORD]
        answers = await asyncio.gather(*(login(http, email, p) for p in passwords))
        successes = [a for a in answers if a.status_code == 200]
        events = await account_events(http, user_id)
        verified = sum(events[action] for action in VERIFIED)
        # Signed in only when the right password was one of the first `LIMIT` counted. A success
        # gives back its own attempt (one more attempt may be counted in after it), never a
        # wrong one's: at most `LIMIT` wrong passwords are ever verified.
        assert events["login.failure"] <= LIMIT, events
        assert verified <= LIMIT + events["login.success"], events
        assert len(successes) == events["login.success"] <= 1, events


async def test_sixty_concurrent_wrong_current_passwords_verify_at_most_the_limit(
    burst_api: str,
) -> None:
    """Finding 5: re-authentication guesses count toward the account's lock-out."""
    async with httpx.AsyncClient(base_url=burst_api, timeout=60) as http:
        email, user_id = await new_account(http)
        access = (await login(http, email, PASSWORD)).json()["access_token"]
        headers = {**bearer(access), "If-Match": "*"}

        async def change(current: str) -> httpx.Response:
            return await http.patch(
                f"{API}/users/me",
                json={"current_password": current, "new_password": "the attacker's password"},
                headers=headers,
            )

        answers = await asyncio.gather(*(change(f"wrong guess {i}") for i in range(BURST)))
        statuses = Counter(answer.status_code for answer in answers)
        assert statuses[401] <= LIMIT, statuses
        assert statuses[401] + statuses[429] == BURST, statuses
        # The right current password past the limit changes nothing; sign-in is locked too.
        assert (await change(PASSWORD)).status_code == 429
        assert (await login(http, email, PASSWORD)).status_code == 429
        events = await account_events(http, user_id)
        assert events["reauth.failure"] <= LIMIT, events
        assert events["password.changed"] == 0, events
