"""Cognito access tokens, verified with a JWKS served by a loopback HTTP server of our own."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from fastapi import FastAPI

from service.app.users.container import UsersContainer
from service.core.container import CoreContainer
from service.core.helpers.token import CognitoVerifier
from tests.conftest import make_test_settings, private_app
from tests.service.app.users.conftest import API, bearer

REGION = "eu-west-1"
POOL = "eu-west-1_TestPool"
OTHER_POOL = "eu-west-1_OtherPool"
CLIENT = "client-app-1"
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{POOL}"
KID = "test-key-1"


@dataclass
class Jwks:
    url: str
    key: RSAPrivateKey
    requests: list[str]


@pytest.fixture(scope="module")
def jwks() -> Iterator[Jwks]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    body = json.dumps({"keys": [public | {"kid": KID, "alg": "RS256", "use": "sig"}]}).encode()
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Jwks(f"http://127.0.0.1:{server.server_port}/jwks.json", key, requests)
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
async def cognito_app(
    stack_env: dict[str, str], run_id: str, jwks: Jwks
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    settings = make_test_settings(
        stack_env,
        run_id + "-cognito",
        cognito_region=REGION,
        cognito_user_pool_id=POOL,
        cognito_app_client_ids=f"{CLIENT},client-app-2",
        cognito_jwks_url=jwks.url,
    )
    async with private_app(settings) as (application, http):
        yield application, http
        database = await application.state.container.resolve(CoreContainer.database)
        await database.client.drop_database(database.name)


def cognito_token(
    key: RSAPrivateKey, *, sub: str | None = None, **overrides: Any
) -> tuple[str, str]:
    sub = sub or str(uuid.uuid4())
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "iss": ISSUER,
        "client_id": CLIENT,
        "token_use": "access",
        "scope": "openid email",
        "username": f"{sub[:8]}@example.org",
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 600,
        **overrides,
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID}), sub


async def test_cognito_access_token_links_a_new_local_user(
    cognito_app: tuple[FastAPI, httpx.AsyncClient], jwks: Jwks
) -> None:
    _, http = cognito_app
    token, sub = cognito_token(jwks.key)
    first = await http.get(f"{API}/users/me", headers=bearer(token))
    assert first.status_code == 200, first.text
    assert first.json()["email"] == f"{sub[:8]}@example.org"
    assert first.json()["role"] == "user"
    second_token, _ = cognito_token(jwks.key, sub=sub)
    second = await http.get(f"{API}/users/me", headers=bearer(second_token))
    assert second.json()["id"] == first.json()["id"]  # linked once, found again


async def test_a_cognito_name_is_held_to_the_display_text_rules(
    cognito_app: tuple[FastAPI, httpx.AsyncClient], jwks: Jwks
) -> None:
    """The pool's claims are input too: a name with control or bidi characters is not stored."""
    _, http = cognito_app
    clean, _ = cognito_token(jwks.key, name="  Ren\u0065\u0301e ")
    hostile, _ = cognito_token(jwks.key, name="Eve\u202e\x1b[31m")
    assert (await http.get(f"{API}/users/me", headers=bearer(clean))).json()["full_name"] == "Renée"
    assert (await http.get(f"{API}/users/me", headers=bearer(hostile))).json()["full_name"] == ""


async def test_jwks_is_fetched_once_and_cached(
    cognito_app: tuple[FastAPI, httpx.AsyncClient], jwks: Jwks
) -> None:
    _, http = cognito_app
    for _ in range(3):
        token, _ = cognito_token(jwks.key)
        assert (await http.get(f"{API}/users/me", headers=bearer(token))).status_code == 200
    assert len(jwks.requests) == 1


async def test_cognito_token_after_logout_is_rejected(
    cognito_app: tuple[FastAPI, httpx.AsyncClient], jwks: Jwks
) -> None:
    _, http = cognito_app
    token, _ = cognito_token(jwks.key)
    assert (await http.post(f"{API}/auth/logout", headers=bearer(token))).status_code == 204
    response = await http.get(f"{API}/users/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"


async def test_cognito_token_from_another_pool_is_rejected(
    cognito_app: tuple[FastAPI, httpx.AsyncClient], jwks: Jwks
) -> None:
    _, http = cognito_app
    token, _ = cognito_token(
        jwks.key, iss=f"https://cognito-idp.{REGION}.amazonaws.com/{OTHER_POOL}"
    )
    response = await http.get(f"{API}/users/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


async def test_cognito_id_token_is_rejected_where_an_access_token_is_required(
    cognito_app: tuple[FastAPI, httpx.AsyncClient], jwks: Jwks
) -> None:
    _, http = cognito_app
    token, _ = cognito_token(jwks.key, token_use="id", aud=CLIENT, client_id=None)
    response = await http.get(f"{API}/users/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["code"] == "wrong_token_type"


async def test_cognito_token_for_an_unknown_app_client_is_rejected(
    cognito_app: tuple[FastAPI, httpx.AsyncClient], jwks: Jwks
) -> None:
    _, http = cognito_app
    token, _ = cognito_token(jwks.key, client_id="someone-elses-client")
    response = await http.get(f"{API}/users/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


async def test_expired_cognito_token_is_rejected(
    cognito_app: tuple[FastAPI, httpx.AsyncClient], jwks: Jwks
) -> None:
    _, http = cognito_app
    token, _ = cognito_token(jwks.key, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    response = await http.get(f"{API}/users/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"


async def test_cognito_token_signed_by_another_key_is_rejected(
    cognito_app: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, http = cognito_app
    token, _ = cognito_token(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    response = await http.get(f"{API}/users/me", headers=bearer(token))
    assert response.status_code == 401


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


async def test_hs256_token_signed_with_the_rs256_public_key_is_rejected(
    cognito_app: tuple[FastAPI, httpx.AsyncClient], jwks: Jwks
) -> None:
    """Algorithm confusion: the public key (known to anyone) used as an HMAC secret."""
    _, http = cognito_app
    public_pem = jwks.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(time.time())
    claims = {
        "sub": str(uuid.uuid4()),
        "iss": ISSUER,
        "client_id": CLIENT,
        "token_use": "access",
        "iat": now,
        "exp": now + 600,
    }
    for kid in (KID, "k1"):  # the pool's key id, and the service's own
        signing_input = (
            f"{_b64(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': kid}).encode())}."
            f"{_b64(json.dumps(claims).encode())}"
        )
        signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
        token = f"{signing_input}.{_b64(signature)}"
        response = await http.get(f"{API}/users/me", headers=bearer(token))
        assert response.status_code == 401, response.text
        assert response.json()["code"] == "invalid_token"


async def test_deactivated_cognito_user_is_rejected(
    cognito_app: tuple[FastAPI, httpx.AsyncClient], jwks: Jwks
) -> None:
    application, http = cognito_app
    token, _ = cognito_token(jwks.key)
    user_id = (await http.get(f"{API}/users/me", headers=bearer(token))).json()["id"]
    users = await application.state.container.resolve(UsersContainer.user_service)
    await users.admin_update(user_id, expected_version=None, is_active=False)
    response = await http.get(f"{API}/users/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"


def test_verifier_is_absent_without_a_pool(settings: Any) -> None:
    assert CognitoVerifier.from_settings(settings) is None
