"""One failing request: its log line, its problem+json body, its Sentry event and its trace
carry the same id, the trace id (FastAPI's own hooks on the app's providers, Sentry through a
capturing transport); and the request's duration is measured by route template."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
import sentry_sdk
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr

from service.app.server import create_app
from service.core.config import Settings
from service.core.helpers.sentry import init_sentry
from service.core.logging import JsonFormatter
from service.core.telemetry import Telemetry, build_telemetry
from tests.service.core.helpers.test_sentry import CapturingTransport

CALLER = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
def error_lines() -> Iterator[io.StringIO]:
    """The error logger's lines as the service writes them (formatted while the request runs)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    error_logger = logging.getLogger("biwoco.error")
    error_logger.addHandler(handler)
    try:
        yield stream
    finally:
        error_logger.removeHandler(handler)


async def test_log_line_problem_sentry_event_and_trace_share_the_trace_id(
    settings: Settings, error_lines: io.StringIO
) -> None:

    configured = settings.model_copy(
        update={
            "telemetry_enabled": True,
            "telemetry_sample_ratio": 1.0,
            "sentry_dsn": SecretStr("https://public@sentry.invalid/1"),
        }
    )
    spans, readings = InMemorySpanExporter(), InMemoryMetricReader()
    telemetry = build_telemetry(configured, "api", span_exporter=spans, metric_reader=readings)
    assert isinstance(telemetry, Telemetry)
    app = create_app(configured, telemetry=telemetry)

    @app.get("/api/v1/boom/{thing}")
    async def boom(thing: str) -> None:
        raise RuntimeError(f"broken {thing}")

    transport = CapturingTransport()
    assert init_sentry(configured, transport=transport)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://testserver",
        ) as http:
            response = await http.get("/api/v1/boom/7", headers={"X-Request-ID": "client-chosen-1"})
            # A caller's W3C trace context is continued: its trace id is the request id.
            continued = await http.get(
                "/api/v1/boom/8", headers={"traceparent": f"00-{CALLER}-00f067aa0ba902b7-01"}
            )
        sentry_sdk.flush()
        telemetry.force_flush()
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init()

    assert continued.json()["request_id"] == CALLER
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    request_id = response.json()["request_id"]
    # The trace id: 32 hex digits, not the client's X-Request-ID.
    assert len(request_id) == 32
    assert request_id != "client-chosen-1"
    assert int(request_id, 16)
    assert response.headers["x-request-id"] == request_id

    [server_span, _] = [
        s for s in spans.get_finished_spans() if s.name == "GET /api/v1/boom/{thing}"
    ]
    assert f"{server_span.context.trace_id:032x}" == request_id

    [line, _] = [json.loads(text) for text in error_lines.getvalue().splitlines()]
    assert line["message"] == "unhandled error"
    assert line["request_id"] == request_id

    [event, other] = [e for e in transport.events if e.get("exception")]
    assert other["contexts"]["trace"]["trace_id"] == CALLER
    assert event["contexts"]["trace"]["trace_id"] == request_id
    assert event["contexts"]["trace"]["span_id"] == f"{server_span.context.span_id:016x}"
    assert event["tags"]["request_id"] == request_id

    exported = readings.get_metrics_data()
    assert exported is not None
    durations = [
        dict(point.attributes or {})
        for resource in exported.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == "http.server.request.duration" and metric.unit == "s"
        for point in metric.data.data_points
        if isinstance(point, HistogramDataPoint) and point.count == 2  # both requests
    ]
    [failed] = [a for a in durations if a.get("http.route") == "/api/v1/boom/{thing}"]
    assert failed["http.response.status_code"] == 500


@pytest.mark.parametrize("measured", [True, False])
async def test_the_sdk_measures_the_request_metric_only_where_asked(
    settings: Settings, measured: bool
) -> None:
    """TELEMETRY_HTTP_DURATION_METRIC=false (what the task definitions set, where CloudWatch
    Logs derives the metric from the access lines): the span is made as before, the SDK
    measures no request duration."""
    configured = settings.model_copy(
        update={
            "telemetry_enabled": True,
            "telemetry_sample_ratio": 1.0,
            "telemetry_http_duration_metric": measured,
        }
    )
    spans, readings = InMemorySpanExporter(), InMemoryMetricReader()
    telemetry = build_telemetry(configured, "api", span_exporter=spans, metric_reader=readings)
    assert isinstance(telemetry, Telemetry)
    app = create_app(configured, telemetry=telemetry)

    @app.get("/api/v1/fine/{thing}")
    async def fine(thing: str) -> dict[str, str]:
        return {"thing": thing}

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        response = await http.get("/api/v1/fine/7")
    telemetry.force_flush()

    [span] = [s for s in spans.get_finished_spans() if s.name == "GET /api/v1/fine/{thing}"]
    assert f"{span.context.trace_id:032x}" == response.headers["x-request-id"]
    assert (span.attributes or {})["http.response.status_code"] == 200
    exported = readings.get_metrics_data()
    names = {
        metric.name
        for resource in (exported.resource_metrics if exported is not None else [])
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    assert ("http.server.request.duration" in names) is measured
