"""Sentry for the API and the worker: environment, release, no default PII.

Sentry is the error tracker. With telemetry on, OpenTelemetry is the tracer: Sentry's own
tracing is off, and its OTLP integration (without its exporter or propagator) gives every event
the current OpenTelemetry trace and span ids (`contexts.trace`), so an event links to its trace;
the `request_id` tag carries the same value (the request id is the trace id).
"""

from __future__ import annotations

import logging
from typing import Any

import sentry_sdk
from sentry_sdk.integrations import Integration
from sentry_sdk.integrations.fastapi import FastApiIntegration
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.integrations.otlp import OTLPIntegration
from sentry_sdk.integrations.pymongo import PyMongoIntegration
from sentry_sdk.integrations.redis import RedisIntegration
from sentry_sdk.integrations.starlette import StarletteIntegration

from service.core.config import Settings
from service.core.request_context import current_request_id

logger = logging.getLogger(__name__)


def init_sentry(
    settings: Settings,
    *,
    extra_integrations: list[Integration] | None = None,
    transport: Any = None,
) -> bool:
    """Initialise Sentry when a DSN is configured; returns whether it was."""
    if settings.sentry_dsn is None:
        if settings.app_env.is_deployed:
            logger.warning("SENTRY_DSN is not set: errors are logged but not reported to Sentry")
        return False
    telemetry = settings.telemetry_enabled
    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        environment=settings.sentry_environment or settings.app_env.value,
        release=settings.release,
        # No PII: no user identity, request bodies, query data or frame locals (which may hold
        # passwords or tokens); the SDK's denylist still scrubs headers and cookies.
        data_collection={
            "user_info": False,
            "http_bodies": [],
            "database_query_data": False,
            "stack_frame_variables": False,
        },
        traces_sample_rate=None if telemetry else settings.sentry_traces_sample_rate,
        before_send=_tag_request_id,
        integrations=[
            StarletteIntegration(),
            FastApiIntegration(),
            RedisIntegration(),
            PyMongoIntegration(),
            # Errors are reported explicitly; log records become breadcrumbs only.
            LoggingIntegration(event_level=None),
            *([_trace_link()] if telemetry else []),
            *(extra_integrations or []),
        ],
        transport=transport,
    )
    return True


def _trace_link() -> Integration:
    """Events take the current OpenTelemetry trace; nothing else of Sentry's OTLP support."""
    return OTLPIntegration(setup_otlp_traces_exporter=False, setup_propagator=False)


def _tag_request_id(event: Any, hint: Any) -> Any:
    request_id = current_request_id()
    if request_id is not None:
        event.setdefault("tags", {})["request_id"] = request_id
    return event
