from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from service.core.fastapi.exception_handlers import register_exception_handlers
from service.core.fastapi.middleware.request_limits import RequestLimitsMiddleware
from service.core.fastapi.middleware.response_middleware import ResponseMiddleware

LIMIT = 1024


@pytest.fixture
async def limited() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    register_exception_handlers(app)
    app.add_middleware(RequestLimitsMiddleware, max_bytes=LIMIT, max_header_bytes=4096)
    app.add_middleware(ResponseMiddleware)

    @app.post("/echo")
    async def echo(body: dict[str, str]) -> dict[str, int]:
        return {"keys": len(body)}

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def test_a_body_within_the_limit_passes(limited: httpx.AsyncClient) -> None:
    response = await limited.post("/echo", json={"a": "b"})
    assert response.status_code == 200


async def test_a_declared_oversized_body_is_a_413_problem(limited: httpx.AsyncClient) -> None:
    response = await limited.post("/echo", json={"a": "x" * (LIMIT + 1)})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "payload_too_large"
    assert "x-request-id" in response.headers


async def test_a_streamed_oversized_body_is_a_413_problem(limited: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"a": "'
        for _ in range(4):
            yield b"y" * 512
        yield b'"}'

    response = await limited.post(
        "/echo", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


async def test_a_non_numeric_content_length_is_a_400_problem(limited: httpx.AsyncClient) -> None:
    response = await limited.post(
        "/echo",
        content=b"{}",
        headers={"content-length": "abc", "content-type": "application/json"},
    )
    assert response.status_code == 400


async def test_oversized_headers_are_a_431_problem(limited: httpx.AsyncClient) -> None:
    response = await limited.post("/echo", json={"a": "b"}, headers={"X-Big": "z" * 5000})
    assert response.status_code == 431
    assert response.json()["code"] == "headers_too_large"
