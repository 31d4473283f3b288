"""FastAPI's own OpenTelemetry hooks, given this process's providers.

FastAPI (0.165) traces each request itself, outside every middleware: a server span named by
the route template (`GET /api/v1/users/me`), the incoming W3C trace context honoured, and the
`http.server.request.duration` histogram (attributes `http.route`, `http.request.method`,
`http.response.status_code`, `error.type`), which is the request rate, the errors and the
latency per route. So the contrib ASGI/FastAPI instrumentation is not used: it would be a second
middleware doing the same (FastAPI steps aside when it finds it). Exception logs stay ours
(`logs` off), and the load balancer's health probes are not traced.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from fastapi.telemetry import TelemetryConfig

from service.core.telemetry import Telemetry

OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


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
        "meter_provider": telemetry.meter_provider,
        "tracing": True,
        "metrics": True,
        "logs": False,
        "operation_spans": telemetry.operation_spans,
        "auto_configure": False,
        "exclude": _health_probe,
    }
