"""Readiness probes of the stores this service depends on."""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from service.app.health.application.readiness_service import NamedProblem, Probe
from service.core.db.database import Database, missing_indexes
from service.core.module import Module
from service.core.schema import index_plan


def mongodb_probe(database: Database) -> Probe:
    async def ping() -> object:
        return await database.command("ping")

    return ping


def redis_probe(redis: Redis) -> Probe:
    async def ping() -> object:
        return await redis.ping()

    return ping


class MissingIndexesError(NamedProblem):
    """Indexes the composition needs are not there yet: run the migrations."""


def indexes_probe(database: Database, modules: Sequence[Module]) -> Probe:
    """Not ready while an index of the plan is missing (the migrations build them, the API
    never does); once all exist, they are not listed again (indexes are dropped only by a
    migration, which runs before a new release's tasks start)."""
    plan = index_plan(modules)
    seen_all = False

    async def check() -> object:
        nonlocal seen_all
        if not seen_all:
            missing = await missing_indexes(database, plan)
            if missing:
                raise MissingIndexesError(", ".join(missing))
            seen_all = True
        return None

    return check
