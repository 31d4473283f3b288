"""Readiness against the real stores, including a Redis that goes away and comes back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from scripts.stack import free_port, start_mongo_server, start_redis
from service.app.modules import MODULES
from service.core.config import Settings
from service.core.container import CoreContainer
from service.core.schema import migrate
from tests.conftest import make_test_settings, private_app


async def until_ready(http: httpx.AsyncClient, within: float = 20.0) -> None:
    """Recovery is the clients' reconnecting on their own; give their monitors a few beats."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        response = await http.get("/healthz/ready")
        if response.status_code == 200:
            return
        assert asyncio.get_running_loop().time() < deadline, response.text
        await asyncio.sleep(0.25)


async def test_live_does_no_io(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_when_mongodb_and_redis_answer(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz/ready")
    assert response.status_code == 200
    assert response.json()["checks"] == {"mongodb": "ok", "redis": "ok", "indexes": "ok"}


async def test_not_ready_while_an_index_is_missing_and_ready_once_migrated(
    stack_env: dict[str, str], run_id: str
) -> None:
    """The API builds no index: on a database the migrations have not run on, it serves but
    stays not-ready, naming what is missing, until `migrate` has built them."""
    settings: Settings = make_test_settings(stack_env, run_id + "-unmigrated")
    async with private_app(settings, migrated=False) as (app, http):
        database = await app.state.container.resolve(CoreContainer.database)
        try:
            down = await http.get("/healthz/ready")
            assert down.status_code == 503
            assert down.headers["content-type"] == "application/problem+json"
            missing = down.json()["checks"]["indexes"]
            assert missing.startswith("MissingIndexesError: ")
            assert "users.email_normalized_unique" in missing
            assert "files.owner_page_key" in missing
            assert (await http.get("/healthz/live")).status_code == 200

            await migrate(settings, MODULES)
            await until_ready(http)
            assert (await http.get("/healthz/ready")).json()["checks"]["indexes"] == "ok"
        finally:
            await database.client.drop_database(database.name)


async def test_ready_names_redis_while_it_is_down_and_recovers_without_restart(
    stack_env: dict[str, str], run_id: str, tmp_path: Path
) -> None:
    redis = start_redis(free_port(), tmp_path)
    settings: Settings = make_test_settings(
        stack_env, run_id + "-redis-outage", redis_url=redis.url
    )
    try:
        async with private_app(settings) as (_, http):
            assert (await http.get("/healthz/ready")).status_code == 200

            redis.stop()
            down = await http.get("/healthz/ready")
            assert down.status_code == 503
            assert down.headers["content-type"] == "application/problem+json"
            problem = down.json()
            assert problem["code"] == "dependency_unavailable"
            assert "redis" in problem["detail"]
            assert problem["checks"]["mongodb"] == "ok"
            assert problem["checks"]["redis"] != "ok"

            redis.restart()
            await until_ready(http)
    finally:
        redis.stop()


async def test_ready_names_mongodb_while_it_is_down_and_recovers_without_restart(
    stack_env: dict[str, str], run_id: str, tmp_path: Path
) -> None:
    database = start_mongo_server(free_port(), tmp_path)
    settings = make_test_settings(
        stack_env, run_id + "-mongo-outage", mongodb_url=database.url, mongodb_timeout_ms=500
    )
    try:
        async with private_app(settings) as (_, http):
            assert (await http.get("/healthz/ready")).status_code == 200

            database.stop()
            down = await http.get("/healthz/ready")
            assert down.status_code == 503
            assert "mongodb" in down.json()["detail"]
            assert down.json()["checks"]["redis"] == "ok"

            database.restart()
            await until_ready(http)
    finally:
        database.stop()
