"""The one redis.asyncio client of a process, as a container resource."""

from __future__ import annotations

from collections.abc import AsyncIterator

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from service.core.config import RedisRole, Settings
from service.core.db.redis.connection import redis_connection


def build_redis_client(
    settings: Settings, *, tracking_listener: bool = False, role: RedisRole = "state"
) -> Redis:
    """The process's client of the Redis for `role` (settings.redis_endpoint); with
    `tracking_listener`, the one-connection RESP2 client of a near cache's invalidation
    listener (no retries: a lost connection must be seen, not healed)."""
    connection = redis_connection(settings, role)
    return Redis.from_url(
        connection.url,
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
        health_check_interval=0 if tracking_listener else 30,
        max_connections=1 if tracking_listener else settings.redis_max_connections,
        # A single short retry rides out a failover without hiding an outage.
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), retries=0 if tracking_listener else 1),
        # Invalidations arrive as plain pub/sub messages on RESP2.
        protocol=2 if tracking_listener else None,
        **connection.client_options(),
    )


async def redis_client_resource(
    settings: Settings, role: RedisRole = "state"
) -> AsyncIterator[Redis]:
    client = build_redis_client(settings, role=role)
    try:
        yield client
    finally:
        await client.aclose()
