"""The one redis.asyncio client of a process, as a container resource."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from service.core.config import Settings


def build_redis_client(settings: Settings, *, tracking_listener: bool = False) -> Redis:
    """The process's client; with `tracking_listener`, the one-connection RESP2 client of the
    near cache's invalidation listener (no retries: a lost connection must be seen, not healed)."""
    password = settings.redis_password.get_secret_value() if settings.redis_password else None
    tls: dict[str, Any] = {}
    if settings.redis_url.startswith("rediss://"):
        # ElastiCache in-transit encryption: verify the certificate and the host name.
        tls = {"ssl_cert_reqs": ssl.CERT_REQUIRED, "ssl_check_hostname": True}
        if settings.redis_ca_file:
            tls["ssl_ca_certs"] = settings.redis_ca_file
    return Redis.from_url(
        settings.redis_url,
        password=password,
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
        health_check_interval=0 if tracking_listener else 30,
        max_connections=1 if tracking_listener else settings.redis_max_connections,
        # A single short retry rides out a failover without hiding an outage.
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), retries=0 if tracking_listener else 1),
        # Invalidations arrive as plain pub/sub messages on RESP2.
        protocol=2 if tracking_listener else None,
        **tls,
    )


async def redis_client_resource(settings: Settings) -> AsyncIterator[Redis]:
    client = build_redis_client(settings)
    try:
        yield client
    finally:
        await client.aclose()
