"""Schemathesis against the served OpenAPI document: every operation, authenticated where needed.

No input may produce a 5xx, and no response may break the schema the document gives for it.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
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


CHECKS = [not_a_server_error, response_schema_conformance]


def fuzz(operation: Any, headers: dict[str, str], base_url: str) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=15,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def run(case: Any) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

    run()


# schemathesis' lazy pytest loader (`from_fixture`) does not run on pytest 9, so the operations
# are walked here: one hypothesis run per operation, each failure naming its operation.
def test_no_input_gives_a_5xx_or_breaks_the_documented_schema(
    api_schema: Any, bearer: dict[str, str], live_api: str
) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 10
    for operation in operations:
        # logout would revoke the shared token and turn every later case into a plain 401
        headers = {} if operation.path == "/api/v1/auth/logout" else bearer
        try:
            fuzz(operation, headers, live_api)
        except Exception as failure:
            raise AssertionError(f"{operation.method.upper()} {operation.path}") from failure
