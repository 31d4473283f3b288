"""The near cache tests' fixtures: a private Redis and the harness around it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from scripts.stack import HOST, ManagedProcess, free_port, start_redis
from service.core.db.redis.redis_client import build_redis_client
from tests.conftest import make_test_settings
from tests.service.core.db.redis.near_cache_harness import (
    WITHIN,
    Harness,
    stop_within,
)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[ManagedProcess]:
    server = start_redis(free_port(), tmp_path)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def harness(
    private_redis: ManagedProcess, stack_env: dict[str, str], run_id: str
) -> AsyncIterator[Harness]:
    settings = make_test_settings(stack_env, run_id, redis_url=private_redis.url)
    harness = Harness(
        private_redis,
        settings,
        build_redis_client(settings),
        Redis(host=HOST, port=private_redis.port),
    )
    try:
        yield harness
    finally:
        for cache in harness.caches:
            await stop_within(cache, WITHIN)
        if private_redis.is_running():
            async for key in harness.other.scan_iter(match=f"{harness.run}:*"):
                await harness.other.delete(key)
        for client in [harness.redis, harness.other, *harness.clients]:
            await client.aclose()
