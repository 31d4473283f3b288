"""Schemathesis against the served OpenAPI document: every operation, authenticated where needed,
one operation at a time (fuzzing) and in sequences that follow the links schemathesis infers
between operations (the stateful phase).

No input may produce a 5xx, and no response may break the schema the document gives for it. A
request the document calls valid is accepted (positive-data acceptance), unless it is refused
with a response the operation documents for what no schema can say (a cursor or token this API
did not issue, an email already taken, a quota reached, a filename with nothing usable): never
with FastAPI's own `validation_error`, because whatever request validation refuses, the document
must say.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import FlakyStrategyDefinition
from schemathesis.checks import CheckContext, not_a_server_error
from schemathesis.generation.stateful import run_state_machine_as_test
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

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


def _validation_error(response: Any) -> bool:
    if response.status_code != 422:
        return False
    return bool(response.json().get("code") == "validation_error")


@schemathesis.check
def valid_requests_are_accepted_or_refused_as_documented(
    ctx: CheckContext, response: Any, case: Any
) -> bool | None:
    documented = case.operation.definition.raw.get("responses", {})
    if str(response.status_code) in documented and not _validation_error(response):
        return None
    return positive_data_acceptance(ctx, response, case)


CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    valid_requests_are_accepted_or_refused_as_documented,
]


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


def test_sequences_of_linked_operations_hold_the_same_checks(
    api_schema: Any, bearer: dict[str, str], live_api: str
) -> None:
    """The stateful phase: schemathesis chains operations along the links it infers (a file
    created, then read, completed, deleted; a page, then the next), with the same checks.

    The sequences run against one live API whose state moves on (quotas fill, limits count), so
    Hypothesis may find that a sequence it replays no longer draws the same steps: schemathesis'
    own engine reports that as flaky, not failed, and so does this test when no check failed
    (`FlakyStrategyDefinition`). A check that failed, even on a replay that went otherwise
    (`FlakyFailure`), fails the test."""
    machine = api_schema.as_state_machine()
    steps: list[str] = []

    class SignedIn(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            # Signing out would revoke the shared token and turn every later step into a 401.
            signs_out = case.path.startswith("/api/v1/auth/logout")
            return {"base_url": live_api, "headers": {} if signs_out else bearer}

        def validate_response(self, response: Any, case: Any, *_: Any, **__: Any) -> None:
            steps.append(f"{case.method} {case.path} {response.status_code}")
            case.validate_response(response, checks=CHECKS)

    with contextlib.suppress(FlakyStrategyDefinition):
        run_state_machine_as_test(
            SignedIn,
            settings=settings(
                max_examples=25,
                stateful_step_count=6,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
                # No shrinking: a replay against a live API that moved on proves nothing.
                phases=[Phase.explicit, Phase.generate],
            ),
        )
    assert len(steps) >= 20, steps
    assert len({step.rsplit(" ", 1)[0] for step in steps}) >= 5, steps
