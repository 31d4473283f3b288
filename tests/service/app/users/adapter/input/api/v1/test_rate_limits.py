"""Finding 8 of issue 22: application rate limits (the `limits` library, moving window, in the
state Redis) per account and per client address on login, register, forgot, reset,
verification resend and re-authentication; past a limit, 429 problem+json with Retry-After.

One app with every rule at 3 a minute; each test speaks from addresses of its own (the ASGI
client address, which is what the forwarded-headers middleware resolves to here).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI

from service.app.users.settings import DEFAULT_RATE_LIMITS
from tests.conftest import _drop_test_data, make_test_settings, private_app
from tests.service.app.users.conftest import API, PASSWORD, bearer, new_email

LIMIT = 3
Send = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


@pytest.fixture(scope="module")
async def limited_app(stack_env: dict[str, str], run_id: str) -> AsyncIterator[FastAPI]:
    settings = make_test_settings(
        stack_env,
        run_id,
        mongodb_db=f"test_{run_id}_limits",
        redis_key_prefix=f"test:{run_id}:limits",
        rate_limits={rule: f"{LIMIT}/minute" for rule in DEFAULT_RATE_LIMITS},
    )
    async with private_app(settings) as (application, _):
        yield application
        await _drop_test_data(application, settings)


def client_at(app: FastAPI, address: str | None = None) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(
        app=app, raise_app_exceptions=False, client=(address or fresh_address(), 40000)
    )
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def fresh_address() -> str:
    raw = uuid.uuid4().bytes
    return f"10.{raw[0]}.{raw[1]}.{raw[2]}"


def assert_rate_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "rate_limited"
    assert 0 < int(response.headers["Retry-After"]) <= 60


async def limited_after(app: FastAPI, send: Send, *, same_address: bool, already: int = 0) -> None:
    """`LIMIT` requests (`already` taken before) pass the limiter, whatever they answer; the
    next is a 429."""
    shared = fresh_address()
    for attempt in range(LIMIT + 1 - already):
        async with client_at(app, shared if same_address else None) as http:
            answer = await send(http, attempt)
        if attempt < LIMIT - already:
            assert answer.status_code != 429, answer.text
        else:
            assert_rate_limited(answer)


async def registered(app: FastAPI) -> tuple[str, str]:
    email = new_email("limits")
    async with client_at(app) as http:
        answer = await http.post(
            f"{API}/auth/register", json={"email": email, "password": PASSWORD, "full_name": "L"}
        )
        assert answer.status_code == 201, answer.text
        signed = await http.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD})
        return email, signed.json()["access_token"]


async def test_register_per_address(limited_app: FastAPI) -> None:
    async def send(http: httpx.AsyncClient, _: int) -> httpx.Response:
        body = {"email": new_email(), "password": PASSWORD, "full_name": "R"}
        return await http.post(f"{API}/auth/register", json=body)

    await limited_after(limited_app, send, same_address=True)


async def test_register_per_account(limited_app: FastAPI) -> None:
    email = new_email()

    async def send(http: httpx.AsyncClient, _: int) -> httpx.Response:
        body = {"email": email, "password": PASSWORD, "full_name": "R"}
        return await http.post(f"{API}/auth/register", json=body)

    await limited_after(limited_app, send, same_address=False)


async def test_login_per_address(limited_app: FastAPI) -> None:
    async def send(http: httpx.AsyncClient, _: int) -> httpx.Response:
        body = {"email": new_email(), "password": "wrong password"}
        return await http.post(f"{API}/auth/login", json=body)

    await limited_after(limited_app, send, same_address=True)


async def test_login_per_account(limited_app: FastAPI) -> None:
    email, _ = await registered(limited_app)

    async def send(http: httpx.AsyncClient, _: int) -> httpx.Response:
        return await http.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD})

    # The registration's own sign-in took one entry.
    await limited_after(limited_app, send, same_address=False, already=1)


async def test_forgot_per_address(limited_app: FastAPI) -> None:
    async def send(http: httpx.AsyncClient, _: int) -> httpx.Response:
        return await http.post(f"{API}/auth/password/forgot", json={"email": new_email()})

    await limited_after(limited_app, send, same_address=True)


async def test_forgot_per_account(limited_app: FastAPI) -> None:
    email = new_email()

    async def send(http: httpx.AsyncClient, _: int) -> httpx.Response:
        return await http.post(f"{API}/auth/password/forgot", json={"email": email})

    await limited_after(limited_app, send, same_address=False)


async def test_reset_per_address(limited_app: FastAPI) -> None:
    async def send(http: httpx.AsyncClient, n: int) -> httpx.Response:
        body = {"token": f"not-a-token-{n}", "new_password": "a new long password"}
        return await http.post(f"{API}/auth/password/reset", json=body)

    await limited_after(limited_app, send, same_address=True)


async def test_verify_per_address(limited_app: FastAPI) -> None:
    async def send(http: httpx.AsyncClient, n: int) -> httpx.Response:
        return await http.post(f"{API}/auth/verify-email", json={"token": f"not-a-token-{n}"})

    await limited_after(limited_app, send, same_address=True)


async def test_verification_resend_per_account(limited_app: FastAPI) -> None:
    _, access = await registered(limited_app)

    async def send(http: httpx.AsyncClient, _: int) -> httpx.Response:
        return await http.post(f"{API}/auth/verify-email/request", headers=bearer(access))

    await limited_after(limited_app, send, same_address=False)


async def test_verification_resend_per_address(limited_app: FastAPI) -> None:
    accounts = [await registered(limited_app) for _ in range(LIMIT + 1)]

    async def send(http: httpx.AsyncClient, n: int) -> httpx.Response:
        return await http.post(f"{API}/auth/verify-email/request", headers=bearer(accounts[n][1]))

    await limited_after(limited_app, send, same_address=True)


async def test_reauthentication_per_account(limited_app: FastAPI) -> None:
    _, access = await registered(limited_app)

    async def send(http: httpx.AsyncClient, _: int) -> httpx.Response:
        return await http.patch(
            f"{API}/users/me",
            json={"current_password": "a wrong guess", "new_password": "a new long password"},
            headers={**bearer(access), "If-Match": "*"},
        )

    await limited_after(limited_app, send, same_address=False)


async def test_reauthentication_per_address(limited_app: FastAPI) -> None:
    accounts = [await registered(limited_app) for _ in range(LIMIT + 1)]

    async def send(http: httpx.AsyncClient, n: int) -> httpx.Response:
        return await http.patch(
            f"{API}/users/me",
            json={"current_password": "a wrong guess", "new_password": "a new long password"},
            headers={**bearer(accounts[n][1]), "If-Match": "*"},
        )

    await limited_after(limited_app, send, same_address=True)


def test_the_defaults_parse_and_unknown_rules_are_refused(
    stack_env: dict[str, str], run_id: str
) -> None:
    settings = make_test_settings(stack_env, run_id, rate_limits={"login.account": "7/hour"})
    assert settings.rate_limits["login.account"] == "7/hour"  # type: ignore[attr-defined]
    assert settings.rate_limits["register.address"] == DEFAULT_RATE_LIMITS["register.address"]  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="unknown rate limit rules"):
        make_test_settings(stack_env, run_id, rate_limits={"logn.account": "1/hour"})
    with pytest.raises(ValueError, match="rate"):
        make_test_settings(stack_env, run_id, rate_limits={"login.account": "often"})
