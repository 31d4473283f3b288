"""create_app(): the FastAPI application with its lifespan, routers, handlers and middleware."""

from __future__ import annotations

import gc
import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from pymongo.asynchronous.database import AsyncDatabase

from service.app.container import Container, resolve, settle, unsettle
from service.app.files.adapter.input.api.v1.router import files_router
from service.app.files.adapter.output.repository import FILES_INDEX_PLAN
from service.app.health.adapter.input.api.router import health_router
from service.app.users.adapter.input.api.authenticator import TokenAuthenticator
from service.app.users.adapter.input.api.v1.router import users_api_routers
from service.app.users.adapter.output.mongo_user_repository import USERS_INDEX_PLAN
from service.app.users.application.bootstrap import bootstrap_admin
from service.app.users.application.user_service import UserService
from service.core.celery_task.tasks import OPS_PROBE_INDEXES, OPS_PROBES
from service.core.config import Settings, get_settings
from service.core.db.database import IndexPlan, ensure_indexes
from service.core.db.redis.near_cache import RedisNearCache
from service.core.fastapi.dependencies import register_authenticator
from service.core.fastapi.exception_handlers import register_exception_handlers
from service.core.fastapi.middleware.cache_scope import CacheScopeMiddleware
from service.core.fastapi.middleware.forwarded import ForwardedMiddleware
from service.core.fastapi.middleware.request_limits import RequestLimitsMiddleware
from service.core.fastapi.middleware.response_middleware import ResponseMiddleware
from service.core.fastapi.openapi import install_problem_openapi
from service.core.fastapi.routing import mount_routes
from service.core.fastapi.web_app import mount_web_app
from service.core.helpers.sentry import init_sentry

API_PREFIX = "/api/v1"


def index_plan() -> IndexPlan:
    """Every collection's indexes, gathered from the modules that own them."""
    return {**USERS_INDEX_PLAN, **FILES_INDEX_PLAN, OPS_PROBES: OPS_PROBE_INDEXES}


def api_routers() -> list[APIRouter]:
    """The modules' routers, mounted flat under API_PREFIX (see `mount_routes`)."""
    return [*users_api_routers(), files_router]


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    settings = settings or get_settings()
    container = container or Container(settings=settings)
    init_sentry(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await container.init_resources()  # type: ignore[misc]
        near_caches = [
            await resolve(container.redis_near_cache, RedisNearCache),
            await resolve(container.cache_near_cache, RedisNearCache),
        ]
        for near_cache in near_caches:
            await near_cache.start()
        await ensure_indexes(await resolve(container.database, AsyncDatabase), index_plan())
        register_authenticator(app, await resolve(container.authenticator, TokenAuthenticator))
        await bootstrap_admin(await resolve(container.user_service, UserService), settings)
        await settle(container)
        # Start-up objects (modules, routes, clients) move out of the collector's way: later
        # full collections scan only what requests allocate, which trims tail latency.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            for near_cache in near_caches:
                await near_cache.stop()
            unsettle(container)
            closing = container.shutdown_resources()
            if inspect.isawaitable(closing):  # None when no resource was started
                await closing

    app = FastAPI(
        title="biwoco API",
        version=settings.release or "0.1.0",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        # Tracing is Sentry's job here; with FastAPI's OpenTelemetry hooks off, no request pays
        # for asking whether they are configured.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.container = container
    app.state.settings = settings
    register_exception_handlers(app)
    install_problem_openapi(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "X-Request-ID"],
            expose_headers=["ETag", "X-Request-ID", "Retry-After"],
        )
    app.add_middleware(CacheScopeMiddleware)
    app.add_middleware(
        RequestLimitsMiddleware,
        max_bytes=settings.max_request_body_bytes,
        max_header_bytes=settings.max_request_header_bytes,
    )
    # Every response, including a 413 or a 500, gets its headers.
    app.add_middleware(ResponseMiddleware, hsts=settings.app_env.is_deployed)
    # Outermost: every layer, the access line included, sees the client's address.
    app.add_middleware(
        ForwardedMiddleware,
        trusted_peers=settings.forwarded_allow_ips,
        trusted_hops=settings.forwarded_trusted_hops,
    )
    mount_routes(app, health_router)
    for router in api_routers():
        mount_routes(app, router, API_PREFIX)
    if settings.web_app_dir:  # local and test only (Settings refuses it when deployed)
        s3_origins = [settings.s3_endpoint_url] if settings.s3_endpoint_url else []
        mount_web_app(app, Path(settings.web_app_dir), connect_origins=s3_origins)
    return app
