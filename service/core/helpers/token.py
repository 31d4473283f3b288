"""JWT utilities: the service's own access and refresh tokens, and Cognito access tokens.

Own tokens are HS256 with a key id (`kid`) in the header; the current key signs, previous keys
still verify during a rotation. Decoding pins the algorithm and requires every registered claim;
a token's verified claims are remembered (bounded) so a client's repeated requests skip the
signature check, while expiry is checked every time.
Cognito tokens are RS256, verified with the pool's JWKS (fetched once, cached, refetched at most
once per `min_refresh_seconds` when an unknown `kid` shows up, so garbage tokens cannot make the
service hammer the JWKS endpoint).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jwt
from jwt import PyJWK

from service.core.config import Settings
from service.core.exceptions import UnauthorizedError

ALGORITHM = "HS256"
COGNITO_ALGORITHM = "RS256"
REQUIRED_CLAIMS = ("sub", "jti", "iat", "exp", "iss", "aud", "type")
LEEWAY_SECONDS = 5
# Verified tokens kept per process (~1 KiB each): the hot path skips re-verifying signatures.
VERIFIED_CACHE_SIZE = 10_000


class InvalidTokenError(UnauthorizedError):
    code = "invalid_token"


class TokenType(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    claims: dict[str, Any]

    @property
    def jti(self) -> str:
        return str(self.claims["jti"])

    @property
    def expires_at(self) -> int:
        return int(self.claims["exp"])


def new_token_id() -> str:
    return secrets.token_urlsafe(16)


def token_algorithm(token: str) -> str | None:
    """The `alg` of an unverified header, to pick the verifier (which then pins its own)."""
    try:
        return str(jwt.get_unverified_header(token).get("alg"))
    except jwt.PyJWTError:
        return None


class JwtCodec:
    def __init__(
        self,
        *,
        key_id: str,
        secret: str,
        previous_keys: Mapping[str, str] | None = None,
        issuer: str,
        audience: str,
    ) -> None:
        self._key_id = key_id
        self._keys = {**(previous_keys or {}), key_id: secret}
        # Verified claims by exact token string. A token is immutable and its signature is
        # checked once; expiry is checked on every use, revocation by the caller (in Redis).
        self._verified: dict[str, dict[str, Any]] = {}
        self.issuer = issuer
        self.audience = audience

    @classmethod
    def from_settings(cls, settings: Settings) -> JwtCodec:
        return cls(
            key_id=settings.jwt_key_id,
            secret=settings.jwt_secret_key.get_secret_value(),
            previous_keys={k: v.get_secret_value() for k, v in settings.jwt_previous_keys.items()},
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )

    def encode(
        self,
        *,
        subject: str,
        token_type: TokenType,
        ttl_seconds: int,
        claims: Mapping[str, Any] | None = None,
        now: int | None = None,
    ) -> IssuedToken:
        issued_at = int(time.time()) if now is None else now
        payload: dict[str, Any] = {
            **(claims or {}),
            "sub": subject,
            "jti": new_token_id(),
            "iat": issued_at,
            "exp": issued_at + ttl_seconds,
            "iss": self.issuer,
            "aud": self.audience,
            "type": token_type.value,
        }
        token = jwt.encode(
            payload, self._keys[self._key_id], algorithm=ALGORITHM, headers={"kid": self._key_id}
        )
        return IssuedToken(token=token, claims=payload)

    def decode(self, token: str, expected_type: TokenType) -> dict[str, Any]:
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify(token)
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                # Drop the oldest entry (dicts keep insertion order): a bounded FIFO.
                del self._verified[next(iter(self._verified))]
            self._verified[token] = claims
        elif claims["exp"] + LEEWAY_SECONDS < time.time():
            del self._verified[token]
            raise InvalidTokenError("Token expired", code="token_expired")
        if claims.get("type") != expected_type.value:
            raise InvalidTokenError(
                f"An {expected_type.value} token is required", code="wrong_token_type"
            )
        return dict(claims)

    def _verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise InvalidTokenError("Malformed token") from error
        key = self._keys.get(str(header.get("kid")))
        if key is None or header.get("alg") != ALGORITHM:
            raise InvalidTokenError("Unknown signing key or algorithm")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.ExpiredSignatureError as error:
            raise InvalidTokenError("Token expired", code="token_expired") from error
        except jwt.PyJWTError as error:
            raise InvalidTokenError("Invalid token") from error
        return claims


class JwksCache:
    """The signing keys of a JWKS URL, fetched once and kept."""

    def __init__(
        self, url: str, *, min_refresh_seconds: float = 300.0, timeout_seconds: float = 3.0
    ) -> None:
        if not url.startswith(("https://", "http://")):
            raise ValueError("JWKS URL must be http(s)")
        self.url = url
        self._min_refresh = min_refresh_seconds
        self._timeout = timeout_seconds
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()
        self.fetch_count = 0

    def _fetch_sync(self) -> dict[str, Any]:
        request = urllib.request.Request(self.url, headers={"Accept": "application/json"})  # noqa: S310 - scheme checked
        with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
            body: dict[str, Any] = json.loads(response.read(1_000_000))
        return body

    async def _refresh(self) -> None:
        document = await asyncio.to_thread(self._fetch_sync)
        self.fetch_count += 1
        self._fetched_at = time.monotonic()
        keys: dict[str, PyJWK] = {}
        for item in document.get("keys", []):
            try:
                keys[str(item["kid"])] = PyJWK(item)
            except (KeyError, jwt.PyJWTError):
                continue
        self._keys = keys

    async def key(self, kid: str) -> PyJWK | None:
        if kid in self._keys:
            return self._keys[kid]
        async with self._lock:
            stale = (
                self._fetched_at is None or time.monotonic() - self._fetched_at >= self._min_refresh
            )
            if kid not in self._keys and stale:
                try:
                    await self._refresh()
                except (OSError, ValueError) as error:
                    raise InvalidTokenError("Signing keys unavailable") from error
        return self._keys.get(kid)


class CognitoVerifier:
    """Verifies Cognito user-pool *access* tokens issued to one of the configured app clients."""

    def __init__(self, *, issuer: str, client_ids: Iterable[str], jwks: JwksCache) -> None:
        self.issuer = issuer
        self._client_ids = frozenset(client_ids)
        self._jwks = jwks

    @classmethod
    def from_settings(cls, settings: Settings) -> CognitoVerifier | None:
        issuer, jwks_url = settings.cognito_issuer, settings.cognito_jwks
        if issuer is None or jwks_url is None:
            return None
        return cls(
            issuer=issuer, client_ids=settings.cognito_app_client_ids, jwks=JwksCache(jwks_url)
        )

    async def verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise InvalidTokenError("Malformed token") from error
        if header.get("alg") != COGNITO_ALGORITHM:
            raise InvalidTokenError("Unexpected token algorithm")
        key = await self._jwks.key(str(header.get("kid")))
        if key is None:
            raise InvalidTokenError("Unknown signing key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[COGNITO_ALGORITHM],
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                # Cognito access tokens carry `client_id`, not `aud`; checked below.
                options={"require": ["sub", "exp", "iat", "iss", "token_use"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError as error:
            raise InvalidTokenError("Token expired", code="token_expired") from error
        except jwt.PyJWTError as error:
            raise InvalidTokenError("Invalid token") from error
        if claims.get("token_use") != "access":
            raise InvalidTokenError("An access token is required", code="wrong_token_type")
        if claims.get("client_id") not in self._client_ids:
            raise InvalidTokenError("Token issued to an unknown client")
        return claims
