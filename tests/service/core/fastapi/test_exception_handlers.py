from __future__ import annotations

from http import HTTPStatus

import httpx

PROBLEM = "application/problem+json"


async def test_a_bad_body_is_a_422_problem_listing_each_field_path(
    probe_client: httpx.AsyncClient,
) -> None:
    response = await probe_client.post(
        "/signup",
        json={"password": "pw-tiny!", "address": {"city": ""}},
        headers={"X-Request-ID": "client-chosen-id-123"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["x-request-id"] == "client-chosen-id-123"
    problem = response.json()
    assert problem["status"] == 422
    assert problem["code"] == "validation_error"
    assert problem["type"] == "urn:biwoco:problem:validation_error"
    assert problem["title"] == HTTPStatus(422).phrase
    assert problem["request_id"] == "client-chosen-id-123"
    fields = {error["field"] for error in problem["errors"]}
    assert fields == {"body.email", "body.password", "body.address.city"}
    assert "pw-tiny!" not in response.text  # inputs (maybe passwords) are never echoed


async def test_malformed_json_is_a_422_problem(probe_client: httpx.AsyncClient) -> None:
    response = await probe_client.post(
        "/signup", content=b'{"email": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM


async def test_an_app_error_keeps_its_status_and_code(probe_client: httpx.AsyncClient) -> None:
    response = await probe_client.get("/conflict")
    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_thing"
    assert response.json()["detail"] == "already there"


async def test_an_unknown_route_is_a_404_problem(probe_client: httpx.AsyncClient) -> None:
    response = await probe_client.get("/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "not_found"


async def test_a_wrong_method_is_a_405_problem(probe_client: httpx.AsyncClient) -> None:
    response = await probe_client.delete("/conflict")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


async def test_a_database_outage_is_a_503_problem(probe_client: httpx.AsyncClient) -> None:
    response = await probe_client.get("/mongo-down")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["retry-after"] == "5"
    assert response.json()["code"] == "database_unavailable"
    assert "127.0.0.1" not in response.text


async def test_a_required_redis_outage_fails_closed_with_a_503_problem(
    probe_client: httpx.AsyncClient,
) -> None:
    response = await probe_client.get("/redis-down")
    assert response.status_code == 503
    assert response.json()["code"] == "redis_unavailable"
