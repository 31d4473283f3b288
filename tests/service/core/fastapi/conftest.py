from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, Field
from pymongo.errors import ServerSelectionTimeoutError
from redis.exceptions import ConnectionError as RedisConnectionError

from service.core.exceptions import ConflictError
from service.core.fastapi.exception_handlers import register_exception_handlers
from service.core.fastapi.middleware.response_middleware import ResponseMiddleware


class Address(BaseModel):
    city: str = Field(min_length=1)


class Signup(BaseModel):
    email: str
    password: str = Field(min_length=10)
    address: Address


def build_probe_app() -> FastAPI:
    """The core error and middleware pieces on a few routes of their own."""
    app = FastAPI()
    register_exception_handlers(app)
    app.add_middleware(ResponseMiddleware)

    @app.post("/signup")
    async def signup(body: Signup) -> dict[str, str]:
        return {"email": body.email}

    @app.get("/conflict")
    async def conflict() -> None:
        raise ConflictError("already there", code="duplicate_thing")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("database password is hunter2")

    @app.get("/mongo-down")
    async def mongo_down() -> None:
        raise ServerSelectionTimeoutError("127.0.0.1:1: connection refused")

    @app.get("/redis-down")
    async def redis_down() -> None:
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:1")

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    return app


@pytest.fixture
async def probe_client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_probe_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
