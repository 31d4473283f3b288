"""The one dependency-injector container of the service (API and worker alike)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from dependency_injector import containers, providers

from service.app.health.adapter.output.probes import mongodb_probe, redis_probe
from service.app.health.application.readiness_service import ReadinessService
from service.core.config import Settings
from service.core.db.database import get_database, mongo_client_resource
from service.core.db.redis.redis_client import redis_client_resource
from service.core.helpers.caches import RedisCacheBackend, cache_manager

T = TypeVar("T")


async def resolve(provider: Callable[[], Any], expected: type[T]) -> T:
    """A provider's object; providers that depend on async resources return awaitables."""
    value = provider()
    if inspect.isawaitable(value):
        value = await value
    if not isinstance(value, expected):
        raise TypeError(f"{provider} provided {type(value).__name__}, not {expected.__name__}")
    return value


def _cache_prefix(settings: Settings) -> str:
    return f"{settings.redis_key_prefix}:cache"


class Container(containers.DeclarativeContainer):
    wiring_config = containers.WiringConfiguration(packages=["service.app"])

    settings = providers.Dependency(instance_of=Settings)

    mongo_client = providers.Resource(mongo_client_resource, settings=settings)
    database = providers.Singleton(
        get_database, client=mongo_client, name=settings.provided.mongodb_db
    )
    redis_client = providers.Resource(redis_client_resource, settings=settings)

    cache_manager = providers.Object(cache_manager)
    cache_backend = providers.Singleton(
        RedisCacheBackend,
        redis=redis_client,
        prefix=providers.Callable(_cache_prefix, settings),
    )

    readiness_service = providers.Singleton(
        ReadinessService,
        probes=providers.Dict(
            mongodb=providers.Callable(mongodb_probe, database),
            redis=providers.Callable(redis_probe, redis_client),
        ),
        timeout_seconds=1.0,
    )
