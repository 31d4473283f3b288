"""The effect ledger against the real Redis: an effect happens once per effect id."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from service.core.celery_task.errors import is_transient
from service.core.celery_task.idempotency import EffectInProgress, EffectLedger
from service.core.config import Settings
from service.core.db.redis.redis_client import build_redis_client

pytestmark = pytest.mark.integration


@pytest.fixture
async def ledger(settings: Settings) -> AsyncIterator[EffectLedger]:
    redis: Redis = build_redis_client(settings)
    prefix = f"{settings.redis_key_prefix}:ledger-{uuid.uuid4().hex[:6]}"
    try:
        yield EffectLedger(redis, prefix, done_ttl_seconds=60, lease_ttl_seconds=30)
    finally:
        async for key in redis.scan_iter(match=f"{prefix}:*"):
            await redis.delete(key)
        await redis.aclose()


async def test_an_effect_happens_once(ledger: EffectLedger) -> None:
    calls: list[int] = []

    async def effect() -> None:
        calls.append(1)

    assert await ledger.once("e-1", effect) is True
    assert await ledger.once("e-1", effect) is False
    assert await ledger.is_done("e-1")
    assert calls == [1]


async def test_a_failed_effect_can_be_tried_again(ledger: EffectLedger) -> None:
    async def failing() -> None:
        raise ConnectionError("smtp down")

    with pytest.raises(ConnectionError):
        await ledger.once("e-2", failing)
    assert not await ledger.is_done("e-2")

    calls: list[int] = []

    async def effect() -> None:
        calls.append(1)

    assert await ledger.once("e-2", effect) is True
    assert calls == [1]


async def test_an_effect_in_progress_elsewhere_is_a_transient_error(ledger: EffectLedger) -> None:
    async def nested() -> None:
        # A second delivery of the same effect while the first is still performing it.
        with pytest.raises(EffectInProgress) as raised:
            await ledger.once("e-3", nested)
        assert is_transient(raised.value)

    assert await ledger.once("e-3", nested) is True
