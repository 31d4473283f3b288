"""FastAPI's own OpenTelemetry hooks for the request spans; the request metric, measured once.

FastAPI (0.165) traces each request itself, outside every middleware: a server span named by
the route template (`GET /api/v1/users/me`), the incoming W3C trace context honoured. So the
contrib ASGI/FastAPI instrumentation is not used: it would be a second middleware doing the same
(FastAPI steps aside when it finds it). Exception logs stay ours (`logs` off), and the load
balancer's health probes are not traced.

FastAPI's own metrics are off: they cost three measurements a request (the duration and an
in-flight gauge up and down, about 22 microseconds, bench/telemetry_cost.py) where one does.
`ResponseMiddleware`, which already times every request for the access line, records
`http.server.request.duration` (seconds; `http.request.method`, `http.route`,
`http.response.status_code`, `error.type` for 5xx): the request rate, the errors and the
latency per route template.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from fastapi import APIRouter
from fastapi.telemetry import TelemetryConfig
from opentelemetry.metrics import Meter
from starlette.routing import BaseRoute

from service.core.telemetry import Telemetry

OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
# Seconds: OpenTelemetry's advised boundaries for HTTP server durations.
HTTP_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)


def _health_probe(scope: MutableMapping[str, Any]) -> bool:
    path: str = scope.get("path", "")
    return path.startswith("/healthz/")


def fastapi_telemetry(telemetry: Telemetry | None) -> TelemetryConfig:
    """The `FastAPI(telemetry=...)` of this process: off without telemetry, so no request pays
    for asking whether a provider is configured."""
    if telemetry is None:
        return OFF
    return {
        "tracer_provider": telemetry.tracer_provider,
        "tracing": True,
        "metrics": False,
        "logs": False,
        "operation_spans": telemetry.operation_spans,
        "auto_configure": False,
        "exclude": _health_probe,
    }


class RouteTemplates:
    """Each included route's full path template, its router's prefix included.

    The route FastAPI matched (`scope["route"]`) carries its own router's path only; the app
    registers every router it includes here with the prefix it included it under.
    """

    def __init__(self) -> None:
        self._templates: dict[int, str] = {}

    def include(self, router: APIRouter, prefix: str = "") -> None:
        for route in router.routes:
            path = getattr(route, "path", None)
            if isinstance(path, str):
                self._templates[id(route)] = prefix + path

    def of(self, route: BaseRoute | None) -> str | None:
        if route is None:
            return None
        template = self._templates.get(id(route))
        return template if template is not None else getattr(route, "path", None)


class RequestDurations:
    """`http.server.request.duration`, one measurement per request."""

    def __init__(self, meter: Meter) -> None:
        self._duration = meter.create_histogram(
            "http.server.request.duration",
            unit="s",
            description="Duration of HTTP server requests.",
            explicit_bucket_boundaries_advisory=HTTP_DURATION_BUCKETS,
        )

    def record(self, seconds: float, method: str, route: str | None, status: int) -> None:
        attributes: dict[str, str | int] = {
            "http.request.method": method,
            "http.response.status_code": status,
        }
        if route is not None:
            attributes["http.route"] = route
        if status >= 500:
            attributes["error.type"] = str(status)
        self._duration.record(seconds, attributes)
