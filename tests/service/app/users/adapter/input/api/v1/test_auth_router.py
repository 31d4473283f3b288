"""/api/v1/auth: each success path and each error, with status and problem code."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from service.core.helpers.mail import LoggingEmailOutbox
from tests.service.app.users.conftest import (
    API,
    PASSWORD,
    Account,
    bearer,
    login,
    mailed_token,
    new_email,
    register,
    signed_in,
)


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code, response.text


async def test_register_creates_an_unverified_user(client: httpx.AsyncClient) -> None:
    email = new_email()
    response = await client.post(
        f"{API}/auth/register",
        json={"email": email, "password": PASSWORD, "full_name": "Ada Lovelace"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == email
    assert body["role"] == "user"
    assert body["is_verified"] is False
    assert body["is_active"] is True
    assert "password_hash" not in body
    assert "password" not in body
    assert response.headers["etag"] == '"1"'


async def test_register_duplicate_email_in_other_case_is_409(client: httpx.AsyncClient) -> None:
    email = new_email()
    await register(client, email)
    response = await client.post(
        f"{API}/auth/register",
        json={"email": f"  {email.upper()} ", "password": PASSWORD, "full_name": "Twin"},
    )
    assert_problem(response, 409, "email_taken")


async def test_register_short_password_is_a_422_the_schema_announces(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        f"{API}/auth/register",
        json={"email": new_email(), "password": "short", "full_name": "X"},
    )
    assert_problem(response, 422, "validation_error")
    assert "body.password" in response.text
    document = (await client.get("/openapi.json")).json()
    password = document["components"]["schemas"]["RegisterRequest"]["properties"]["password"]
    assert password["minLength"] == 10


async def test_register_password_equal_to_email_is_422(client: httpx.AsyncClient) -> None:
    email = new_email()
    response = await client.post(
        f"{API}/auth/register",
        json={"email": email, "password": email.upper(), "full_name": "X"},
    )
    assert_problem(response, 422, "weak_password")


async def test_register_invalid_email_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{API}/auth/register",
        json={"email": "not-an-email", "password": PASSWORD, "full_name": "X"},
    )
    assert_problem(response, 422, "validation_error")
    assert response.json()["errors"][0]["field"] == "body.email"


async def test_login_returns_a_token_pair(client: httpx.AsyncClient) -> None:
    user = await register(client)
    response = await login(client, str(user["email"]).upper())
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] > 0
    assert body["access_token"]
    assert body["refresh_token"]
    me = await client.get(f"{API}/users/me", headers=bearer(body["access_token"]))
    assert me.json()["id"] == user["id"]


async def test_login_wrong_password_and_unknown_email_give_the_same_401(
    client: httpx.AsyncClient,
) -> None:
    user = await register(client)
    wrong_password = await login(client, str(user["email"]), "wrong password!!")
    unknown_email = await login(client, new_email("nobody"), "wrong password!!")
    for response in (wrong_password, unknown_email):
        assert_problem(response, 401, "invalid_credentials")
    assert wrong_password.json()["detail"] == unknown_email.json()["detail"]


async def test_login_of_a_disabled_account_is_403(
    client: httpx.AsyncClient, admin: Account, account: Account
) -> None:
    await client.patch(
        f"{API}/users/{account.id}", json={"is_active": False}, headers=admin.headers
    )
    assert_problem(await login(client, account.email), 403, "account_disabled")


async def test_refresh_returns_a_new_pair(client: httpx.AsyncClient, account: Account) -> None:
    response = await client.post(
        f"{API}/auth/refresh", json={"refresh_token": account.refresh_token}
    )
    assert response.status_code == 200
    pair = response.json()
    assert pair["refresh_token"] != account.refresh_token
    me = await client.get(f"{API}/users/me", headers=bearer(pair["access_token"]))
    assert me.status_code == 200
    again = await client.post(f"{API}/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert again.status_code == 200


async def test_refresh_with_garbage_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{API}/auth/refresh", json={"refresh_token": "a.b.c"})
    assert_problem(response, 401, "invalid_token")


async def test_logout_is_204(client: httpx.AsyncClient, account: Account) -> None:
    response = await client.post(f"{API}/auth/logout", headers=account.headers)
    assert response.status_code == 204


async def test_logout_without_token_is_401(client: httpx.AsyncClient) -> None:
    assert_problem(await client.post(f"{API}/auth/logout"), 401, "not_authenticated")


async def test_email_verification_round_trip(
    app: FastAPI, outbox: LoggingEmailOutbox, client: httpx.AsyncClient, account: Account
) -> None:
    response = await client.post(f"{API}/auth/verify-email/request", headers=account.headers)
    assert response.status_code == 202
    token = await mailed_token(app, outbox, account.email, "verify_email")
    verified = await client.post(f"{API}/auth/verify-email", json={"token": token})
    assert verified.status_code == 200
    assert verified.json()["is_verified"] is True
    me = await client.get(f"{API}/users/me", headers=account.headers)
    assert me.json()["is_verified"] is True  # the cached profile was invalidated
    reused = await client.post(f"{API}/auth/verify-email", json={"token": token})
    assert_problem(reused, 400, "invalid_or_expired_token")


async def test_registration_mails_a_verification_token(
    app: FastAPI, outbox: LoggingEmailOutbox, client: httpx.AsyncClient
) -> None:
    user = await register(client)
    token = await mailed_token(app, outbox, str(user["email"]), "verify_email")
    response = await client.post(f"{API}/auth/verify-email", json={"token": token})
    assert response.status_code == 200


async def test_verify_email_with_unknown_token_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{API}/auth/verify-email", json={"token": "made-up"})
    assert_problem(response, 400, "invalid_or_expired_token")


async def test_verification_request_when_already_verified_is_409(
    app: FastAPI, outbox: LoggingEmailOutbox, client: httpx.AsyncClient, account: Account
) -> None:
    token = await mailed_token(app, outbox, account.email, "verify_email")
    await client.post(f"{API}/auth/verify-email", json={"token": token})
    response = await client.post(f"{API}/auth/verify-email/request", headers=account.headers)
    assert_problem(response, 409, "already_verified")


async def test_verification_request_needs_a_token(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{API}/auth/verify-email/request")
    assert_problem(response, 401, "not_authenticated")


async def test_password_reset_round_trip(
    app: FastAPI, outbox: LoggingEmailOutbox, client: httpx.AsyncClient, account: Account
) -> None:
    forgot = await client.post(f"{API}/auth/password/forgot", json={"email": account.email})
    assert forgot.status_code == 202
    token = await mailed_token(app, outbox, account.email, "password_reset")
    new_password = "a brand new passphrase"
    reset = await client.post(
        f"{API}/auth/password/reset", json={"token": token, "new_password": new_password}
    )
    assert reset.status_code == 204
    assert (await login(client, account.email, new_password)).status_code == 200
    assert_problem(await login(client, account.email, PASSWORD), 401, "invalid_credentials")
    reused = await client.post(
        f"{API}/auth/password/reset", json={"token": token, "new_password": "yet another one!"}
    )
    assert_problem(reused, 400, "invalid_or_expired_token")


async def test_password_reset_with_weak_password_is_422_and_keeps_the_token(
    app: FastAPI, outbox: LoggingEmailOutbox, client: httpx.AsyncClient, account: Account
) -> None:
    await client.post(f"{API}/auth/password/forgot", json={"email": account.email})
    token = await mailed_token(app, outbox, account.email, "password_reset")
    weak = await client.post(
        f"{API}/auth/password/reset", json={"token": token, "new_password": account.email}
    )
    assert_problem(weak, 422, "weak_password")
    ok = await client.post(
        f"{API}/auth/password/reset", json={"token": token, "new_password": "strong enough now"}
    )
    assert ok.status_code == 204


async def test_password_reset_with_unknown_token_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{API}/auth/password/reset", json={"token": "nope", "new_password": "long enough pw"}
    )
    assert_problem(response, 400, "invalid_or_expired_token")


async def test_signed_in_helper_account_works(client: httpx.AsyncClient) -> None:
    account = await signed_in(client)
    assert (await client.get(f"{API}/users/me", headers=account.headers)).status_code == 200


async def test_a_long_password_is_taken_up_to_256_characters(client: httpx.AsyncClient) -> None:
    """ASVS 6.2.9: at least 64 characters allowed (the bound is 256), verified as received."""
    email, long_password = new_email(), "p" * 256
    created = await client.post(
        f"{API}/auth/register",
        json={"email": email, "password": long_password, "full_name": "Long"},
    )
    assert created.status_code == 201, created.text
    assert (await login(client, email, long_password)).status_code == 200
    assert (await login(client, email, long_password[:-1])).status_code == 401
    too_long = await client.post(
        f"{API}/auth/register",
        json={"email": new_email(), "password": "p" * 257, "full_name": "Long"},
    )
    assert too_long.status_code == 422
