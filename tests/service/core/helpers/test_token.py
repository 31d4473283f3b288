"""The JWT codec: pinned algorithm, required claims, types, key rotation."""

from __future__ import annotations

import time

import jwt
import pytest

from service.core.helpers.token import InvalidTokenError, JwtCodec, TokenType, token_algorithm

SECRET = "a-test-secret-of-at-least-32-bytes!!"
OLD_SECRET = "the-previous-secret-of-32-bytes-ok!!"


def codec(**overrides: object) -> JwtCodec:
    values: dict[str, object] = {
        "key_id": "k2",
        "secret": SECRET,
        "previous_keys": {"k1": OLD_SECRET},
        "issuer": "biwoco",
        "audience": "biwoco-api",
    }
    values.update(overrides)
    return JwtCodec(**values)  # type: ignore[arg-type]


def test_round_trip_carries_the_registered_claims() -> None:
    issued = codec().encode(
        subject="u1", token_type=TokenType.ACCESS, ttl_seconds=60, claims={"role": "user"}
    )
    claims = codec().decode(issued.token, TokenType.ACCESS)
    assert {"sub", "jti", "iat", "exp", "iss", "aud", "type"} <= claims.keys()
    assert claims["role"] == "user"
    assert jwt.get_unverified_header(issued.token)["kid"] == "k2"
    assert token_algorithm(issued.token) == "HS256"


def test_previous_key_still_verifies_during_rotation() -> None:
    old = codec(key_id="k1", secret=OLD_SECRET, previous_keys={})
    token = old.encode(subject="u1", token_type=TokenType.ACCESS, ttl_seconds=60).token
    assert codec().decode(token, TokenType.ACCESS)["sub"] == "u1"
    retired = codec(previous_keys={})
    with pytest.raises(InvalidTokenError):
        retired.decode(token, TokenType.ACCESS)


def test_wrong_type_is_refused() -> None:
    token = codec().encode(subject="u1", token_type=TokenType.REFRESH, ttl_seconds=60).token
    with pytest.raises(InvalidTokenError) as raised:
        codec().decode(token, TokenType.ACCESS)
    assert raised.value.code == "wrong_token_type"


def test_expired_is_refused() -> None:
    token = (
        codec()
        .encode(
            subject="u1", token_type=TokenType.ACCESS, ttl_seconds=60, now=int(time.time()) - 600
        )
        .token
    )
    with pytest.raises(InvalidTokenError) as raised:
        codec().decode(token, TokenType.ACCESS)
    assert raised.value.code == "token_expired"


def test_missing_required_claim_is_refused() -> None:
    now = int(time.time())
    payload = {"sub": "u1", "iat": now, "exp": now + 60, "iss": "biwoco", "aud": "biwoco-api"}
    token = jwt.encode(
        payload | {"type": "access"}, SECRET, algorithm="HS256", headers={"kid": "k2"}
    )
    with pytest.raises(InvalidTokenError):  # no jti
        codec().decode(token, TokenType.ACCESS)


def test_other_algorithms_are_refused_even_with_the_right_key() -> None:
    now = int(time.time())
    payload = {
        "sub": "u1",
        "jti": "j",
        "iat": now,
        "exp": now + 60,
        "iss": "biwoco",
        "aud": "biwoco-api",
        "type": "access",
    }
    long_secret = SECRET * 2  # long enough for HS512: the refusal is the algorithm pin
    token = jwt.encode(payload, long_secret, algorithm="HS512", headers={"kid": "k2"})
    with pytest.raises(InvalidTokenError):
        codec(secret=long_secret).decode(token, TokenType.ACCESS)


def test_garbage_is_refused() -> None:
    for token in ("", "abc", "a.b.c", "eyJhbGciOiJub25lIn0.e30."):
        with pytest.raises(InvalidTokenError):
            codec().decode(token, TokenType.ACCESS)


def test_a_remembered_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = codec()
    issued = tokens.encode(subject="u1", token_type=TokenType.ACCESS, ttl_seconds=60)
    assert tokens.decode(issued.token, TokenType.ACCESS)["sub"] == "u1"  # verified, remembered
    later = time.time() + 3600
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(InvalidTokenError) as raised:
        tokens.decode(issued.token, TokenType.ACCESS)
    assert raised.value.code == "token_expired"


def test_a_remembered_token_keeps_its_type_check_and_its_claims_are_not_shared() -> None:
    tokens = codec()
    issued = tokens.encode(subject="u1", token_type=TokenType.REFRESH, ttl_seconds=60)
    first = tokens.decode(issued.token, TokenType.REFRESH)
    first["sub"] = "someone-else"
    assert tokens.decode(issued.token, TokenType.REFRESH)["sub"] == "u1"
    with pytest.raises(InvalidTokenError) as raised:
        tokens.decode(issued.token, TokenType.ACCESS)
    assert raised.value.code == "wrong_token_type"


def test_a_tampered_copy_of_a_remembered_token_is_verified_and_refused() -> None:
    tokens = codec()
    issued = tokens.encode(subject="u1", token_type=TokenType.ACCESS, ttl_seconds=60)
    tokens.decode(issued.token, TokenType.ACCESS)
    header, payload, signature = issued.token.split(".")
    forged = ".".join(
        [header, payload, signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")]
    )
    with pytest.raises(InvalidTokenError):
        tokens.decode(forged, TokenType.ACCESS)
