"""The core container: what every module builds on (one per process: API, worker, CLI).

Each module's container declares `core = providers.DependenciesContainer()` and receives this
one. Dependencies without a default (`authenticator`, `modules`) are given by the composition
(`service.core.composition.ServiceContainer`): `authenticator` by the module that declares one.
"""

from __future__ import annotations

from collections.abc import Sequence

from dependency_injector import containers, providers
from redis.asyncio import Redis

from service.core.auth.authenticator import Authenticator
from service.core.celery_task import create_celery_app
from service.core.celery_task.idempotency import EffectLedger
from service.core.celery_task.mail import PendingEmailStore
from service.core.celery_task.publisher import TaskPublisher
from service.core.clock import SystemClock
from service.core.config import Settings
from service.core.db.database import get_database, mongo_client_resource
from service.core.db.redis.near_cache import build_near_cache
from service.core.db.redis.redis_client import redis_client_resource
from service.core.helpers.caches import CacheManager, RedisCacheBackend
from service.core.helpers.caches.key_maker import FunctionKeyMaker
from service.core.helpers.mail.backends import build_mailer
from service.core.helpers.metrics import build_metrics_publisher
from service.core.helpers.token import CognitoVerifier, JwtCodec


def _cache_prefix(settings: Settings) -> str:
    return f"{settings.redis_key_prefix}:cache"


def _cache_entry_prefix(settings: Settings) -> str:
    return f"{_cache_prefix(settings)}:entry"


def _cache_near_cache_prefixes(settings: Settings) -> Sequence[str]:
    return (RedisCacheBackend.tracked_prefix(_cache_prefix(settings)),)


def _effect_ledger(redis: Redis, settings: Settings) -> EffectLedger:
    return EffectLedger(
        redis,
        settings.redis_key_prefix,
        done_ttl_seconds=settings.celery_effect_ttl_seconds,
        # Nobody holds a claim longer than a task may run.
        lease_ttl_seconds=settings.celery_task_time_limit_seconds + 5,
    )


class CoreContainer(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    # The module declarations (the Celery app routes their tasks by name).
    modules = providers.Dependency(instance_of=tuple)
    # Turns a bearer token into a Principal: the provider a module declares as its
    # `Module.authenticator` (the users module: `UsersContainer.authenticator`, AuthService).
    authenticator = providers.Dependency(instance_of=Authenticator)  # type: ignore[type-abstract]

    clock = providers.Singleton(SystemClock)

    mongo_client = providers.Resource(mongo_client_resource, settings=settings)
    database = providers.Singleton(
        get_database, client=mongo_client, name=settings.provided.mongodb_db
    )
    # Two Redis roles (docs/data-model.md): `redis_client` holds what must never be evicted
    # (broker, auth state, outbox), `redis_cache_client` the evictable tagged cache. Locally
    # both point at one server (REDIS_CACHE_URL defaults to REDIS_URL).
    redis_client = providers.Resource(redis_client_resource, settings=settings)
    redis_cache_client = providers.Resource(redis_client_resource, settings=settings, role="cache")

    # Hot cache keys kept in the API process, invalidated by the Redis that holds them (the API
    # starts every near cache of the composition; other processes read Redis directly).
    cache_near_cache = providers.Singleton(
        build_near_cache,
        redis=redis_cache_client,
        settings=settings,
        prefixes=providers.Callable(_cache_near_cache_prefixes, settings),
        role="cache",
    )
    cache_key_maker = providers.Singleton(
        FunctionKeyMaker, prefix=providers.Callable(_cache_entry_prefix, settings)
    )
    cache_backend = providers.Singleton(
        RedisCacheBackend,
        redis=redis_cache_client,
        prefix=providers.Callable(_cache_prefix, settings),
        near_cache=cache_near_cache,
    )
    # Each container (API, worker process, CLI) has its own manager, built with its backend:
    # every process that writes invalidates what the others cached.
    cache_manager = providers.Singleton(
        CacheManager, backend=cache_backend, key_maker=cache_key_maker
    )

    # Tokens: the service's own (JWT) and Cognito's.
    token_codec = providers.Singleton(JwtCodec.from_settings, settings)
    cognito_verifier = providers.Singleton(CognitoVerifier.from_settings, settings)

    # Background work: the Celery app this process enqueues with (the worker's composition
    # overrides it with the worker's own), the outbox and mailer, effects done once, metrics.
    celery_app = providers.Singleton(create_celery_app, settings=settings, modules=modules)
    task_publisher = providers.Singleton(TaskPublisher, app=celery_app)
    pending_emails = providers.Singleton(
        PendingEmailStore.from_settings, redis=redis_client, settings=settings
    )
    mailer = providers.Singleton(build_mailer, settings=settings)
    effect_ledger = providers.Singleton(_effect_ledger, redis=redis_client, settings=settings)
    metrics_publisher = providers.Singleton(build_metrics_publisher, settings=settings)
