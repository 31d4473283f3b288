"""The API's request telemetry: one server span and one duration measurement per request.

Both are made by `ResponseMiddleware`, which already reads the request's headers, times it and
knows its route template for the access line. FastAPI's own OpenTelemetry hooks (0.165,
`FastAPI(telemetry=...)`) do the same and more, and were the first choice (the contrib
ASGI/FastAPI instrumentation would be a second middleware doing what FastAPI does); measured by
bench/telemetry_cost.py they cost about 50 microseconds a request (a third of the cached
`/users/me`), mostly three SDK metric measurements (the duration and an in-flight gauge up and
down), a second and third parse of the headers, three context attachments and a walk of the
middleware stack per request. Here: the traceparent is parsed only when the request has one, one
context attachment, one measurement. FastAPI's hooks stay off (`OFF`).

The span: `<method> <route template>` (`GET /api/v1/users/me`), kind server, continuing an
incoming W3C trace context; recorded attributes (sampled requests only) `http.request.method`,
`http.route`, `http.response.status_code`, `url.path`, `url.scheme`, `error.type` for 5xx. The
metric, unless CloudWatch Logs derives it from the access lines instead
(TELEMETRY_HTTP_DURATION_METRIC, infra/request_metrics.py): `http.server.request.duration` (seconds;
`http.request.method`, `http.route`, `http.response.status_code`, `error.type` for 5xx), the
request rate, the errors and the latency per route template. The load balancer's health probes
are neither traced nor measured.
"""

from __future__ import annotations

from contextvars import Token
from dataclasses import dataclass

from fastapi import APIRouter
from fastapi.telemetry import TelemetryConfig
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, StatusCode
from starlette.datastructures import Headers
from starlette.routing import BaseRoute
from starlette.types import Scope

from service.core.telemetry import Telemetry

OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
# Seconds: OpenTelemetry's advised boundaries for HTTP server durations.
HTTP_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
_HEALTH = "/healthz/"
HTTP_DURATION = "http.server.request.duration"


def error_type(status: int, error: BaseException | None) -> str | None:
    """`error.type` of a request: the exception's class, or the status, for a 5xx only."""
    if status < 500:
        return None
    return type(error).__qualname__ if error is not None else str(status)


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


@dataclass(slots=True)
class TracedRequest:
    span: Span
    token: Token[Context]

    @property
    def trace_id(self) -> str:
        return f"{self.span.get_span_context().trace_id:032x}"


class RequestTelemetry:
    """The server span and the duration metric of each request, on this process's providers."""

    def __init__(self, telemetry: Telemetry, *, measure_duration: bool = True) -> None:
        """`measure_duration` False (TELEMETRY_HTTP_DURATION_METRIC): the metric is derived from
        the access lines elsewhere (deployed: CloudWatch Logs); the span alone is made here."""
        self._tracer = telemetry.tracer_provider.get_tracer("biwoco.http")
        self._duration = (
            telemetry.meter_provider.get_meter("biwoco.http").create_histogram(
                HTTP_DURATION,
                unit="s",
                description="Duration of HTTP server requests.",
                explicit_bucket_boundaries_advisory=HTTP_DURATION_BUCKETS,
            )
            if measure_duration
            else None
        )

    def start(self, scope: Scope) -> TracedRequest | None:
        """The request's span, made current; None for a health probe."""
        if scope["path"].startswith(_HEALTH):
            return None
        parent = None
        for name, _ in scope["headers"]:
            if name == b"traceparent":
                parent = propagate.extract(Headers(scope=scope))
                break
        span = self._tracer.start_span(scope["method"], context=parent, kind=SpanKind.SERVER)
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        return TracedRequest(span, token)

    def finish(
        self,
        traced: TracedRequest | None,
        scope: Scope,
        route: str | None,
        status: int,
        seconds: float,
        error_type: str | None,
        error: BaseException | None,
    ) -> None:
        if traced is None:
            return
        span = traced.span
        recording = span.is_recording()
        if recording or self._duration is not None:
            method: str = scope["method"]
            attributes: dict[str, str | int] = {
                "http.request.method": method,
                "http.response.status_code": status,
            }
            if route is not None:
                attributes["http.route"] = route
            if error_type is not None:
                attributes["error.type"] = error_type
            if self._duration is not None:
                self._duration.record(seconds, attributes)
            if recording:
                if route is not None:
                    span.update_name(f"{method} {route}")
                span.set_attributes(attributes)
                span.set_attributes({"url.path": scope["path"], "url.scheme": scope["scheme"]})
                if error is not None:
                    span.record_exception(error)
                if status >= 500:
                    span.set_status(StatusCode.ERROR)
        span.end()
        otel_context.detach(traced.token)
