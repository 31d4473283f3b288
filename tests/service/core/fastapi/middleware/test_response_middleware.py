from __future__ import annotations

import json
import logging

import httpx
import pytest


async def test_a_well_formed_request_id_is_kept_and_a_bad_one_replaced(
    probe_client: httpx.AsyncClient,
) -> None:
    kept = await probe_client.get("/items/1", headers={"X-Request-ID": "abc-123-def-456"})
    assert kept.headers["x-request-id"] == "abc-123-def-456"
    replaced = await probe_client.get("/items/1", headers={"X-Request-ID": "bad id\twith junk"})
    assert replaced.headers["x-request-id"] != "bad id\twith junk"
    assert len(replaced.headers["x-request-id"]) == 32
    generated = await probe_client.get("/items/1")
    assert generated.headers["x-request-id"] != replaced.headers["x-request-id"]


async def test_timing_and_security_headers(probe_client: httpx.AsyncClient) -> None:
    response = await probe_client.get("/items/1")
    assert response.headers["x-process-time"].endswith("ms")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in response.headers["content-security-policy"]


async def test_an_unhandled_error_is_a_500_problem_without_internals_and_is_logged(
    probe_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        response = await probe_client.get("/boom", headers={"X-Request-ID": "req-boom-0001"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "internal_error"
    assert response.json()["request_id"] == "req-boom-0001"
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    errors = [r for r in caplog.records if r.name == "biwoco.error"]
    assert errors
    assert errors[0].exc_info is not None
    # The access line names the error's class (the 5xx per route are counted by it).
    [access] = [r for r in caplog.records if r.name == "biwoco.access"]
    assert access.__dict__["status"] == 500
    assert access.__dict__["error_type"] == "RuntimeError"


async def test_one_access_line_per_request_with_the_route_template_and_no_secrets(
    probe_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    from service.core.logging import JsonFormatter

    with caplog.at_level(logging.INFO, logger="biwoco.access"):
        await probe_client.get(
            "/items/42?token=sekret",
            headers={"Authorization": "Bearer sekret-token", "X-Request-ID": "req-log-00001"},
        )
    lines = [r for r in caplog.records if r.name == "biwoco.access"]
    assert len(lines) == 1
    line = json.loads(JsonFormatter().format(lines[0]))
    assert line["method"] == "GET"
    assert line["route"] == "/items/{item_id}"
    assert line["status"] == 200
    assert line["request_id"] == "req-log-00001"
    assert isinstance(line["duration_ms"], float)
    assert "error_type" not in line
    assert "sekret" not in json.dumps(line)
