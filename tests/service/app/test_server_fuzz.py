"""Schemathesis against the served OpenAPI document: every operation, authenticated where needed.

No input may produce a 5xx, and no response may break the schema the document gives for it.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

PASSWORD = "fuzzing-password-1"


@pytest.fixture(scope="session")
def api_schema(live_api: str) -> Any:
    return schemathesis.openapi.from_url(f"{live_api}/openapi.json")


@pytest.fixture(scope="session")
def bearer(live_api: str) -> dict[str, str]:
    email = f"fuzz-{uuid.uuid4().hex[:8]}@example.com"
    with httpx.Client(base_url=live_api) as http:
        registered = http.post(
            "/api/v1/auth/register",
            json={"email": email, "password": PASSWORD, "full_name": "Fuzz Er"},
        )
        assert registered.status_code == 201, registered.text
        tokens = http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert tokens.status_code == 200, tokens.text
    return {"Authorization": f"Bearer {tokens.json()['access_token']}"}


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_input_gives_a_5xx_or_breaks_the_documented_schema(
    case: Any, bearer: dict[str, str], live_api: str
) -> None:
    # logout would revoke the shared token and turn every later case into a plain 401
    if case.path == "/api/v1/auth/logout":
        case.call_and_validate(
            base_url=live_api, checks=[not_a_server_error, response_schema_conformance]
        )
        return
    case.call_and_validate(
        base_url=live_api,
        headers=bearer,
        checks=[not_a_server_error, response_schema_conformance],
    )
