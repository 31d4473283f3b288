"""The attack suite: each case its own test, against the real Redis and database."""

from __future__ import annotations

import base64
import json
import time

import httpx
import jwt
from fastapi import FastAPI

from service.core.config import Settings
from service.core.helpers.mail import LoggingEmailOutbox
from service.core.helpers.token import JwtCodec, TokenType
from tests.service.app.users.conftest import (
    API,
    PASSWORD,
    Account,
    bearer,
    login,
    mailed_token,
    new_email,
    register,
    run_recovery_requests,
)


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def claims_of(token: str) -> dict[str, object]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def forged(settings: Settings, claims: dict[str, object], **codec: str) -> str:
    """A token signed with the real key but with chosen claims."""
    values = {
        "key_id": settings.jwt_key_id,
        "secret": settings.jwt_secret_key.get_secret_value(),
        "issuer": settings.jwt_issuer,
        "audience": settings.jwt_audience,
        **codec,
    }
    signer = JwtCodec(
        key_id=values["key_id"],
        secret=values["secret"],
        issuer=values["issuer"],
        audience=values["audience"],
    )
    ttl = claims.get("ttl", 300)
    now = claims.get("now", int(time.time()))
    assert isinstance(ttl, int)
    assert isinstance(now, int)
    issued = signer.encode(
        subject=str(claims["sub"]),
        token_type=TokenType(str(claims["type"])),
        ttl_seconds=ttl,
        claims={k: v for k, v in claims.items() if k in ("email", "role", "sid", "gen")},
        now=now,
    )
    return issued.token


async def me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get(f"{API}/users/me", headers=bearer(token))


def assert_401(response: httpx.Response, code: str | None = None) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if code:
        assert response.json()["code"] == code, response.text


async def test_alg_none_is_rejected(client: httpx.AsyncClient, account: Account) -> None:
    claims = claims_of(account.access_token)
    claims["role"] = "admin"
    token = f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': 'k1'})}.{b64(claims)}."
    assert_401(await me(client, token), "invalid_token")
    assert_401(await client.get(f"{API}/users", headers=bearer(token)), "invalid_token")


async def test_tampered_payload_is_rejected(client: httpx.AsyncClient, account: Account) -> None:
    header, _, signature = account.access_token.split(".")
    claims = claims_of(account.access_token)
    claims["role"] = "admin"
    assert_401(await me(client, f"{header}.{b64(claims)}.{signature}"), "invalid_token")


async def test_expired_token_is_rejected(
    client: httpx.AsyncClient, settings: Settings, account: Account
) -> None:
    claims = claims_of(account.access_token) | {"ttl": 60, "now": int(time.time()) - 3600}
    assert_401(await me(client, forged(settings, claims)), "token_expired")


async def test_wrong_issuer_is_rejected(
    client: httpx.AsyncClient, settings: Settings, account: Account
) -> None:
    token = forged(settings, claims_of(account.access_token), issuer="someone-else")
    assert_401(await me(client, token), "invalid_token")


async def test_wrong_audience_is_rejected(
    client: httpx.AsyncClient, settings: Settings, account: Account
) -> None:
    token = forged(settings, claims_of(account.access_token), audience="another-api")
    assert_401(await me(client, token), "invalid_token")


async def test_unknown_signing_key_is_rejected(
    client: httpx.AsyncClient, settings: Settings, account: Account
) -> None:
    token = forged(
        settings,
        claims_of(account.access_token),
        secret="an attacker's own key of 32+ chars!!",
    )
    assert_401(await me(client, token), "invalid_token")


async def test_refresh_token_used_as_access_token_is_rejected(
    client: httpx.AsyncClient, account: Account
) -> None:
    assert_401(await me(client, account.refresh_token), "wrong_token_type")


async def test_access_token_used_as_refresh_token_is_rejected(
    client: httpx.AsyncClient, account: Account
) -> None:
    response = await client.post(
        f"{API}/auth/refresh", json={"refresh_token": account.access_token}
    )
    assert_401(response, "wrong_token_type")


async def test_refresh_token_reuse_revokes_the_family(
    client: httpx.AsyncClient, account: Account
) -> None:
    first = await client.post(f"{API}/auth/refresh", json={"refresh_token": account.refresh_token})
    assert first.status_code == 200
    newest = first.json()
    reused = await client.post(f"{API}/auth/refresh", json={"refresh_token": account.refresh_token})
    assert_401(reused, "refresh_token_reused")
    # The newest refresh token of that family stops working, and so do its access tokens.
    after = await client.post(
        f"{API}/auth/refresh", json={"refresh_token": newest["refresh_token"]}
    )
    assert_401(after, "token_revoked")
    assert_401(await me(client, newest["access_token"]), "token_revoked")


async def test_token_after_logout_is_rejected(client: httpx.AsyncClient, account: Account) -> None:
    assert (await me(client, account.access_token)).status_code == 200
    assert (await client.post(f"{API}/auth/logout", headers=account.headers)).status_code == 204
    assert_401(await me(client, account.access_token), "token_revoked")
    refresh = await client.post(
        f"{API}/auth/refresh", json={"refresh_token": account.refresh_token}
    )
    assert_401(refresh, "token_revoked")


async def test_token_after_deactivation_is_rejected(
    client: httpx.AsyncClient, account: Account, admin: Account
) -> None:
    assert (await me(client, account.access_token)).status_code == 200
    response = await client.patch(
        f"{API}/users/{account.id}", json={"is_active": False}, headers=admin.headers
    )
    assert response.status_code == 200
    assert_401(await me(client, account.access_token), "token_revoked")
    refresh = await client.post(
        f"{API}/auth/refresh", json={"refresh_token": account.refresh_token}
    )
    assert_401(refresh, "token_revoked")


async def test_token_after_password_reset_is_rejected(
    app: FastAPI, client: httpx.AsyncClient, outbox: LoggingEmailOutbox, account: Account
) -> None:
    second_session = (await login(client, account.email)).json()
    await client.post(f"{API}/auth/password/forgot", json={"email": account.email})
    token = await mailed_token(app, outbox, account.email, "password_reset")
    reset = await client.post(
        f"{API}/auth/password/reset", json={"token": token, "new_password": "new and long pw"}
    )
    assert reset.status_code == 204
    for access in (account.access_token, second_session["access_token"]):
        assert_401(await me(client, access), "token_revoked")
    refresh = await client.post(
        f"{API}/auth/refresh", json={"refresh_token": account.refresh_token}
    )
    assert_401(refresh, "token_revoked")
    fresh = await login(client, account.email, "new and long pw")
    assert (await me(client, fresh.json()["access_token"])).status_code == 200


async def test_mass_assignment_of_role_at_registration_is_refused(
    client: httpx.AsyncClient,
) -> None:
    email = new_email("sneaky")
    response = await client.post(
        f"{API}/auth/register",
        json={
            "email": email,
            "password": PASSWORD,
            "full_name": "Sneaky",
            "role": "admin",
            "is_verified": True,
            "is_active": True,
        },
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert {e["field"] for e in response.json()["errors"]} == {
        "body.role",
        "body.is_verified",
        "body.is_active",
    }
    # Nothing was created: the same email registers normally afterwards, as a plain user.
    user = await register(client, email)
    assert user["role"] == "user"
    assert user["is_verified"] is False


async def test_reading_another_users_record_is_404(
    client: httpx.AsyncClient, account: Account, admin: Account
) -> None:
    other = await register(client)
    response = await client.get(f"{API}/users/{other['id']}", headers=account.headers)
    assert response.status_code == 404
    assert response.json()["code"] == "user_not_found"
    missing = await client.get(f"{API}/users/does-not-exist", headers=account.headers)
    assert missing.json() == response.json() | {"request_id": missing.json()["request_id"]}
    # An admin may; the user may read themself.
    assert (
        await client.get(f"{API}/users/{other['id']}", headers=admin.headers)
    ).status_code == 200
    assert (
        await client.get(f"{API}/users/{account.id}", headers=account.headers)
    ).status_code == 200


async def test_changing_another_users_record_is_refused(
    client: httpx.AsyncClient, account: Account
) -> None:
    other = await register(client)
    patch = await client.patch(
        f"{API}/users/{other['id']}", json={"role": "user"}, headers=account.headers
    )
    assert patch.status_code == 403
    assert patch.json()["code"] == "admin_required"
    delete = await client.delete(f"{API}/users/{other['id']}", headers=account.headers)
    assert delete.status_code == 403
    promote_self = await client.patch(
        f"{API}/users/{account.id}", json={"role": "admin"}, headers=account.headers
    )
    assert promote_self.status_code == 403
    # /users/me does not take a role either.
    sneaky = await client.patch(
        f"{API}/users/me",
        json={"role": "admin"},
        headers=account.headers | {"If-Match": '"1"'},
    )
    assert sneaky.status_code == 422
    assert (await me(client, account.access_token)).json()["role"] == "user"


async def test_lockout_after_five_failures(client: httpx.AsyncClient) -> None:
    user = await register(client)
    email = str(user["email"])
    for _ in range(5):
        assert_401(await login(client, email, "wrong password!!"), "invalid_credentials")
    locked = await login(client, email)  # even the right password
    assert locked.status_code == 429
    assert locked.json()["code"] == "login_locked"
    assert 0 < int(locked.headers["Retry-After"]) <= 900
    # Another account is not affected.
    other = await register(client)
    assert (await login(client, str(other["email"]))).status_code == 200


async def test_an_owners_sign_in_does_not_reset_an_attackers_count(
    client: httpx.AsyncClient,
) -> None:
    """Failures are counted per window whatever succeeds in between: an attacker guessing
    between the owner's sign-ins still gets 5 guesses per window, not 5 per sign-in."""
    user = await register(client)
    email = str(user["email"])
    for _ in range(4):
        assert_401(await login(client, email, "wrong password!!"), "invalid_credentials")
    assert (await login(client, email)).status_code == 200  # the owner
    assert_401(await login(client, email, "wrong password!!"), "invalid_credentials")
    assert (await login(client, email, "wrong password!!")).status_code == 429


async def test_lockout_also_covers_unknown_emails(client: httpx.AsyncClient) -> None:
    email = new_email("ghost")
    for _ in range(5):
        assert_401(await login(client, email, "wrong password!!"), "invalid_credentials")
    assert (await login(client, email, "wrong password!!")).status_code == 429


async def test_forgot_password_for_unknown_email_answers_like_a_known_one(
    app: FastAPI, client: httpx.AsyncClient, outbox: LoggingEmailOutbox, account: Account
) -> None:
    known = await client.post(f"{API}/auth/password/forgot", json={"email": account.email})
    unknown = await client.post(f"{API}/auth/password/forgot", json={"email": new_email("nobody")})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert set(known.headers) == set(unknown.headers)
    await run_recovery_requests(app)
    assert [m.to for m in outbox.sent if m.kind == "password_reset"] == [account.email]
