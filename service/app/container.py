"""The one dependency-injector container of the service (API and worker alike)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from dependency_injector import containers, providers

from service.app.files.adapter.output.repository import MongoFileQuota, MongoFileRepository
from service.app.files.adapter.output.storage import S3ObjectStorage, build_s3_client
from service.app.files.adapter.output.task_queue import CeleryFileTasks
from service.app.files.application.file_service import FileService
from service.app.files.application.policy import FilePolicy
from service.app.files.application.processing import FileProcessing
from service.app.health.adapter.output.probes import mongodb_probe, redis_probe
from service.app.health.application.readiness_service import ReadinessService
from service.app.users.adapter.output.celery_email_outbox import CeleryEmailOutbox
from service.app.users.adapter.output.mongo_user_repository import MongoUserRepository
from service.app.users.adapter.output.redis_auth_store import RedisAuthStore
from service.app.users.application.auth_service import AuthService
from service.app.users.application.user_service import UserService
from service.core.celery_task import create_celery_app
from service.core.celery_task.mail import PendingEmailStore
from service.core.clock import SystemClock
from service.core.config import Settings
from service.core.db.database import get_database, mongo_client_resource
from service.core.db.redis.near_cache import build_near_cache
from service.core.db.redis.redis_client import redis_client_resource
from service.core.helpers.caches import CacheManager, RedisCacheBackend
from service.core.helpers.caches.key_maker import FunctionKeyMaker
from service.core.helpers.mail.backends import build_mailer
from service.core.helpers.metrics import build_metrics_publisher
from service.core.helpers.password import PasswordHasher
from service.core.helpers.token import CognitoVerifier, JwtCodec

T = TypeVar("T")


async def resolve(provider: Callable[[], Any], expected: type[T]) -> T:
    """A provider's object; providers that depend on async resources return awaitables."""
    value = provider()
    if inspect.isawaitable(value):
        value = await value
    if not isinstance(value, expected):
        raise TypeError(f"{provider} provided {type(value).__name__}, not {expected.__name__}")
    return value


async def settle(container: containers.Container) -> None:
    """After start-up: build every singleton, then let providers answer synchronously.

    Providers that depend on async resources answer with awaitables ("async mode"), so every
    injection of one cost a future and a gathered task per request. Once the resources are up
    and the singletons built, nothing is left to wait for. `unsettle` before shutting down.
    """
    singleton: providers.Provider[Any]
    for singleton in container.traverse(types=[providers.Singleton]):
        built = singleton()
        if inspect.isawaitable(built):
            await built
    provider: providers.Provider[Any]
    for provider in container.traverse():
        provider.disable_async_mode()


def unsettle(container: containers.Container) -> None:
    """Before shutting down: undo `settle`, with the resources in async mode again.

    `shutdown_resources()` awaits the resources' closing only when one of them is in async
    mode; otherwise it merely schedules each async close and returns None, and the clients
    close in orphan tasks after the app has stopped (one of which hung a test session's
    teardown for good).
    """
    provider: providers.Provider[Any]
    for provider in container.traverse():
        provider.reset_async_mode()
    resource: providers.Resource[Any]
    for resource in container.traverse(types=[providers.Resource]):
        resource.enable_async_mode()


def _cache_prefix(settings: Settings) -> str:
    return f"{settings.redis_key_prefix}:cache"


def _cache_entry_prefix(settings: Settings) -> str:
    return f"{_cache_prefix(settings)}:entry"


def _auth_prefix(settings: Settings) -> str:
    return f"{settings.redis_key_prefix}:auth"


def _auth_near_cache_prefixes(settings: Settings) -> tuple[str, ...]:
    return RedisAuthStore.revocation_prefixes(_auth_prefix(settings))


def _cache_near_cache_prefixes(settings: Settings) -> tuple[str, ...]:
    return (RedisCacheBackend.tracked_prefix(_cache_prefix(settings)),)


def _file_policy(settings: Settings) -> FilePolicy:
    return FilePolicy(
        allowed_content_types=frozenset(settings.files_allowed_content_types),
        max_size_bytes=settings.files_max_size_bytes,
        quota_max_count=settings.files_quota_max_count,
        quota_max_bytes=settings.files_quota_max_bytes,
        presign_expiry_seconds=settings.files_presign_expiry_seconds,
        download_url_expiry_seconds=settings.files_download_url_expiry_seconds,
        pending_expiry_seconds=settings.files_pending_expiry_seconds,
        kms_key_id=settings.s3_kms_key_id,
    )


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
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

    # Hot auth and cache keys kept in the process, invalidated by the Redis that holds them;
    # the API starts both.
    redis_near_cache = providers.Singleton(
        build_near_cache,
        redis=redis_client,
        settings=settings,
        prefixes=providers.Callable(_auth_near_cache_prefixes, settings),
    )
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

    readiness_service = providers.Singleton(
        ReadinessService,
        probes=providers.Dict(
            mongodb=providers.Callable(mongodb_probe, database),
            # (Not the cache's Redis: without it reads fall through to the database.)
            redis=providers.Callable(redis_probe, redis_client),
        ),
        timeout_seconds=1.0,
    )

    # Background work: the Celery app this process enqueues with (the worker overrides it with
    # its own), the mailer the worker delivers through, and operational metrics.
    celery_app = providers.Singleton(create_celery_app, settings=settings)
    mailer = providers.Singleton(build_mailer, settings=settings)
    metrics_publisher = providers.Singleton(build_metrics_publisher, settings=settings)
    pending_emails = providers.Singleton(
        PendingEmailStore.from_settings, redis=redis_client, settings=settings
    )

    # Files: one boto3 S3 client per process (thread-safe; its calls run in threads).
    s3_client = providers.Singleton(build_s3_client, settings=settings)
    file_storage = providers.Singleton(
        S3ObjectStorage,
        client=s3_client,
        bucket=settings.provided.s3_bucket,
        kms_key_id=settings.provided.s3_kms_key_id,
    )
    file_policy = providers.Singleton(_file_policy, settings=settings)
    file_repository = providers.Singleton(MongoFileRepository, database=database, clock=clock)
    file_quota = providers.Singleton(MongoFileQuota, database=database, clock=clock)
    # The core Celery app: its broker key prefix and routes are the ones the worker consumes.
    file_tasks = providers.Singleton(CeleryFileTasks, app=celery_app)
    file_service = providers.Singleton(
        FileService,
        repository=file_repository,
        quota=file_quota,
        storage=file_storage,
        tasks=file_tasks,
        policy=file_policy,
        clock=clock,
    )
    file_processing = providers.Singleton(
        FileProcessing,
        repository=file_repository,
        quota=file_quota,
        storage=file_storage,
        tasks=file_tasks,
        clock=clock,
    )

    # Users and authentication
    email_outbox = providers.Singleton(CeleryEmailOutbox, store=pending_emails, celery=celery_app)
    password_hasher = providers.Singleton(
        PasswordHasher,
        time_cost=settings.provided.password_hash_time_cost,
        memory_cost_kib=settings.provided.password_hash_memory_kib,
        parallelism=settings.provided.password_hash_parallelism,
    )
    token_codec = providers.Singleton(JwtCodec.from_settings, settings)
    cognito_verifier = providers.Singleton(CognitoVerifier.from_settings, settings)
    user_repository = providers.Singleton(MongoUserRepository, database=database, clock=clock)
    auth_state = providers.Singleton(
        RedisAuthStore,
        redis=redis_client,
        prefix=providers.Callable(_auth_prefix, settings),
        near_cache=redis_near_cache,
    )
    user_service = providers.Singleton(
        UserService,
        repository=user_repository,
        hasher=password_hasher,
        auth_state=auth_state,
        cache=cache_manager,
        cache_ttl_seconds=settings.provided.user_cache_ttl_seconds,
        session_ttl_seconds=settings.provided.refresh_token_ttl_seconds,
        clock=clock,
    )
    auth_service = providers.Singleton(
        AuthService,
        repository=user_repository,
        users=user_service,
        hasher=password_hasher,
        codec=token_codec,
        cognito=cognito_verifier,
        auth_state=auth_state,
        cache=cache_manager,
        outbox=email_outbox,
        access_ttl_seconds=settings.provided.access_token_ttl_seconds,
        refresh_ttl_seconds=settings.provided.refresh_token_ttl_seconds,
        max_login_failures=settings.provided.login_max_failures,
        lockout_seconds=settings.provided.login_lockout_seconds,
        verification_ttl_seconds=settings.provided.email_verification_ttl_seconds,
        reset_ttl_seconds=settings.provided.password_reset_ttl_seconds,
        clock=clock,
        web_app_url=settings.provided.web_app_url,
    )
    # AuthService is the core Authenticator itself (its `authenticate` returns a Principal).
    authenticator = auth_service
