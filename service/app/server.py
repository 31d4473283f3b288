"""create_app(): the FastAPI application with its lifespan, routers, handlers and middleware."""

from __future__ import annotations

import functools
import gc
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from service.app.container import build_container
from service.app.modules import MODULES
from service.app.settings import get_settings
from service.core import schema
from service.core.composition import ServiceContainer
from service.core.config import Settings
from service.core.container import CoreContainer
from service.core.db.database import IndexPlan, missing_indexes
from service.core.db.redis.near_cache import RedisNearCache
from service.core.fastapi.exception_handlers import register_exception_handlers
from service.core.fastapi.middleware.database_deadline import DatabaseDeadlineMiddleware
from service.core.fastapi.middleware.forwarded import ForwardedMiddleware
from service.core.fastapi.middleware.request_limits import RequestLimitsMiddleware
from service.core.fastapi.middleware.response_middleware import ResponseMiddleware
from service.core.fastapi.openapi import install_problem_openapi
from service.core.fastapi.telemetry import OFF, RequestTelemetry, RouteTemplates
from service.core.fastapi.web_app import mount_web_app
from service.core.helpers.sentry import init_sentry
from service.core.module import Module
from service.core.telemetry import Telemetry, build_telemetry, install_telemetry

API_PREFIX = "/api/v1"
logger = logging.getLogger(__name__)


def index_plan(modules: Sequence[Module] = MODULES) -> IndexPlan:
    """Every collection's indexes: core's and each module's (`service.core.schema`)."""
    return schema.index_plan(modules)


def create_app(
    settings: Settings | None = None,
    container: ServiceContainer | None = None,
    telemetry: Telemetry | None = None,
) -> FastAPI:
    """The API. With TELEMETRY_ENABLED, this process's telemetry is built and installed first
    (before any client exists); a test or the bench may pass providers of its own instead."""
    settings = settings or get_settings()
    if telemetry is None:
        built = build_telemetry(settings, "api")
        telemetry = install_telemetry(built) if built is not None else None
    container = container or build_container(settings)
    init_sentry(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await container.start()
        await container.settle()
        near_caches = container.instances_of(RedisNearCache)
        try:
            for near_cache in near_caches:
                await near_cache.start()
            # Migrations build the indexes (`service/main.py migrate`); the API only looks, and
            # readiness stays 503 naming the missing ones until they exist.
            missing = await missing_indexes(
                container.provided(CoreContainer.database), index_plan(container.modules)
            )
            if missing:
                logger.warning("indexes missing: not ready", extra={"missing_indexes": missing})
            for module in container.modules:
                if module.startup is not None:
                    await module.startup(container.module(module.name))
            # Start-up objects (modules, routes, clients) move out of the collector's way:
            # later full collections scan only what requests allocate, which trims tail latency.
            gc.collect()
            gc.freeze()
            yield
        finally:
            for near_cache in near_caches:
                await near_cache.stop()
            await container.stop()

    app = FastAPI(
        title="biwoco API",
        version=settings.release or "0.1.0",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        # The request's span and metric are ResponseMiddleware's (service/core/fastapi/
        # telemetry.py says why FastAPI's own hooks stay off).
        telemetry=OFF,
    )
    app.state.container = container
    register_exception_handlers(app)
    install_problem_openapi(
        app,
        [
            functools.partial(module.refine_openapi, settings)
            for module in container.modules
            if module.refine_openapi is not None
        ],
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "X-Request-ID"],
            expose_headers=["ETag", "X-Request-ID", "Retry-After"],
        )
    app.add_middleware(
        DatabaseDeadlineMiddleware, seconds=settings.mongodb_request_timeout_ms / 1000
    )
    app.add_middleware(
        RequestLimitsMiddleware,
        max_bytes=settings.max_request_body_bytes,
        max_header_bytes=settings.max_request_header_bytes,
    )
    # Every response, including a 413 or a 500, gets its headers (and is traced and measured).
    routes = RouteTemplates()
    app.add_middleware(
        ResponseMiddleware,
        hsts=settings.app_env.is_deployed,
        routes=routes,
        telemetry=(
            RequestTelemetry(telemetry, measure_duration=settings.telemetry_http_duration_metric)
            if telemetry is not None
            else None
        ),
    )
    # Outermost: every layer, the access line included, sees the client's address.
    app.add_middleware(
        ForwardedMiddleware,
        trusted_peers=settings.forwarded_allow_ips,
        trusted_hops=settings.forwarded_trusted_hops,
    )
    for module in container.modules:
        for router in module.root_routers:
            app.include_router(router)
            routes.include(router)
        for router in module.routers:
            app.include_router(router, prefix=API_PREFIX)
            routes.include(router, API_PREFIX)
        for mount in module.mounts:
            app.mount(API_PREFIX + mount.path, mount.app, name=mount.name)
    if settings.web_app_dir:  # local and test only (Settings refuses it when deployed)
        s3_origins = [settings.s3_endpoint_url] if settings.s3_endpoint_url else []
        mount_web_app(app, Path(settings.web_app_dir), connect_origins=s3_origins)
    return app
