"""The users module's providers (users, sessions, tokens), built on the core container."""

from __future__ import annotations

from collections.abc import Sequence

from dependency_injector import containers, providers

from service.app.users.adapter.output.celery_email_outbox import CeleryEmailOutbox
from service.app.users.adapter.output.mongo_user_repository import (
    SECURITY_EVENTS,
    MongoUserRepository,
)
from service.app.users.adapter.output.redis_auth_store import RedisAuthStore
from service.app.users.adapter.output.redis_recovery_queue import RedisRecoveryQueue
from service.app.users.application.auth_service import AuthService
from service.app.users.application.guard import AttemptGuard
from service.app.users.application.user_service import UserService
from service.core.audit import AuditTrail
from service.core.config import Settings
from service.core.db.redis.near_cache import build_near_cache
from service.core.helpers.password import PasswordHasher
from service.core.ratelimit import RateLimiter


def _auth_prefix(settings: Settings) -> str:
    return f"{settings.redis_key_prefix}:auth"


def _revocation_prefixes(settings: Settings) -> Sequence[str]:
    return RedisAuthStore.revocation_prefixes(_auth_prefix(settings))


class UsersContainer(containers.DeclarativeContainer):
    core = providers.DependenciesContainer()
    settings = core.settings

    # Revocation keys read on every request, kept in the API process and invalidated by the
    # state Redis that holds them.
    auth_near_cache = providers.Singleton(
        build_near_cache,
        redis=core.redis_client,
        settings=settings,
        prefixes=providers.Callable(_revocation_prefixes, settings),
    )
    auth_state = providers.Singleton(
        RedisAuthStore,
        redis=core.redis_client,
        prefix=providers.Callable(_auth_prefix, settings),
        near_cache=auth_near_cache,
    )
    email_outbox = providers.Singleton(
        CeleryEmailOutbox, store=core.pending_emails, publisher=core.task_publisher
    )
    # Rate limits and the lock-out share the noeviction ("state") Redis with the auth state.
    rate_limiter = providers.Singleton(
        RateLimiter,
        redis=core.redis_client,
        prefix=settings.provided.redis_key_prefix,
        rules=settings.provided.rate_limits,
    )
    guard = providers.Singleton(
        AttemptGuard,
        auth_state=auth_state,
        limiter=rate_limiter,
        max_failures=settings.provided.login_max_failures,
        lockout_seconds=settings.provided.login_lockout_seconds,
    )
    recovery_queue = providers.Singleton(
        RedisRecoveryQueue,
        redis=core.redis_client,
        publisher=core.task_publisher,
        prefix=providers.Callable(_auth_prefix, settings),
        ttl_seconds=settings.provided.mail_outbox_ttl_seconds,
    )
    audit_trail = providers.Singleton(
        AuditTrail, database=core.database, clock=core.clock, collection=SECURITY_EVENTS
    )
    password_hasher = providers.Singleton(
        PasswordHasher,
        time_cost=settings.provided.password_hash_time_cost,
        memory_cost_kib=settings.provided.password_hash_memory_kib,
        parallelism=settings.provided.password_hash_parallelism,
    )
    repository = providers.Singleton(MongoUserRepository, database=core.database, clock=core.clock)
    user_service = providers.Singleton(
        UserService,
        repository=repository,
        hasher=password_hasher,
        auth_state=auth_state,
        cache=core.cache_manager,
        cache_ttl_seconds=settings.provided.user_cache_ttl_seconds,
        session_ttl_seconds=settings.provided.refresh_token_ttl_seconds,
        clock=core.clock,
        guard=guard,
        audit=audit_trail,
    )
    auth_service = providers.Singleton(
        AuthService,
        repository=repository,
        users=user_service,
        hasher=password_hasher,
        codec=core.token_codec,
        cognito=core.cognito_verifier,
        auth_state=auth_state,
        cache=core.cache_manager,
        outbox=email_outbox,
        recovery=recovery_queue,
        guard=guard,
        audit=audit_trail,
        access_ttl_seconds=settings.provided.access_token_ttl_seconds,
        refresh_ttl_seconds=settings.provided.refresh_token_ttl_seconds,
        verification_ttl_seconds=settings.provided.email_verification_ttl_seconds,
        reset_ttl_seconds=settings.provided.password_reset_ttl_seconds,
        clock=core.clock,
        web_app_url=settings.provided.web_app_url,
    )
    # The core Authenticator is AuthService itself (`authenticate` returns a Principal).
    authenticator = auth_service
