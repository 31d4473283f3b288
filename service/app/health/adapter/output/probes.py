"""Readiness probes of the stores this service depends on."""

from __future__ import annotations

from redis.asyncio import Redis

from service.app.health.application.readiness_service import Probe
from service.core.db.database import Database


def mongodb_probe(database: Database) -> Probe:
    async def ping() -> object:
        return await database.command("ping")

    return ping


def redis_probe(redis: Redis) -> Probe:
    async def ping() -> object:
        return await redis.ping()

    return ping
