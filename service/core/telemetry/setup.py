"""The process's providers: resource, sampler, exporters; installed once per process."""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from opentelemetry import metrics, trace
from opentelemetry.exporter.otlp.json.file import FileMetricExporter, FileSpanExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.metrics.view import DropAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from service.core.config import Settings
from service.core.telemetry.instrument import instrument_libraries
from service.core.telemetry.sampling import service_sampler

logger = logging.getLogger(__name__)

Role = Literal["api", "worker", "beat"]

_VIEWS = (
    # The Celery instrumentation's own histogram is Flower's name, labelled by worker host; the
    # task metrics of service/core/telemetry/tasks.py replace it.
    View(instrument_name="flower.task.runtime.seconds", aggregation=DropAggregation()),
)


@dataclass(frozen=True, slots=True)
class Telemetry:
    """One process's providers."""

    role: Role
    service_name: str
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def force_flush(self) -> None:
        self.tracer_provider.force_flush()
        self.meter_provider.force_flush()

    def shutdown(self) -> None:
        """Export what is pending and stop (a pool child exits without running atexit)."""
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def _exporters(settings: Settings, service_name: str) -> tuple[SpanExporter, MetricExporter] | None:
    if settings.telemetry_exporter == "otlp":
        base = settings.telemetry_otlp_endpoint.rstrip("/")
        return (
            OTLPSpanExporter(endpoint=f"{base}/v1/traces"),
            OTLPMetricExporter(endpoint=f"{base}/v1/metrics"),
        )
    if settings.telemetry_exporter == "file":
        folder = (
            Path(settings.telemetry_file_dir)
            if settings.telemetry_file_dir
            else Path(tempfile.gettempdir()) / "biwoco-telemetry"
        )
        folder.mkdir(parents=True, exist_ok=True)
        # One file per process and signal: processes never interleave their lines.
        stem = f"{service_name}-{os.getpid()}.jsonl"
        return FileSpanExporter(folder / f"traces-{stem}"), FileMetricExporter(
            folder / f"metrics-{stem}"
        )
    return None


def build_telemetry(
    settings: Settings,
    role: Role,
    *,
    span_exporter: SpanExporter | None = None,
    metric_reader: MetricReader | None = None,
) -> Telemetry | None:
    """The providers for this process, or None when telemetry is off. An exporter or reader
    given here replaces the configured ones (tests, the bench)."""
    if not settings.telemetry_enabled:
        return None
    service_name = f"{settings.telemetry_service_name or settings.app_name}-{role}"
    resource = Resource.create(
        {
            "service.name": service_name,
            "service.namespace": settings.app_name,
            "service.version": settings.release or "unversioned",
            "deployment.environment.name": settings.app_env.value,
        }
    )
    configured = (
        _exporters(settings, service_name)
        if span_exporter is None and metric_reader is None
        else None
    )
    tracer_provider = TracerProvider(
        resource=resource, sampler=service_sampler(settings.telemetry_sample_ratio)
    )
    exporter = span_exporter or (configured[0] if configured else None)
    if exporter is not None:
        tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
    readers: list[MetricReader] = []
    if metric_reader is not None:
        readers.append(metric_reader)
    elif configured is not None:
        readers.append(
            PeriodicExportingMetricReader(
                configured[1],
                export_interval_millis=settings.telemetry_metric_interval_seconds * 1000,
            )
        )
    # No exemplars: each measurement would otherwise ask whether to keep a trace sample.
    meter_provider = MeterProvider(
        resource=resource,
        metric_readers=readers,
        views=_VIEWS,
        exemplar_filter=AlwaysOffExemplarFilter(),
    )
    return Telemetry(
        role=role,
        service_name=service_name,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    )


_lock = threading.Lock()
_installed: Telemetry | None = None


def install_telemetry(telemetry: Telemetry) -> Telemetry:
    """Make `telemetry` the process's global providers and instrument the libraries, once per
    process: a second call keeps the first installation and returns it."""
    global _installed
    with _lock:
        if _installed is not None:
            if _installed is not telemetry:
                logger.info(
                    "telemetry already installed in this process",
                    extra={"service": _installed.service_name},
                )
            return _installed
        trace.set_tracer_provider(telemetry.tracer_provider)
        metrics.set_meter_provider(telemetry.meter_provider)
        instrument_libraries(telemetry)
        _installed = telemetry
        logger.info(
            "telemetry installed",
            extra={"service": telemetry.service_name, "pid": os.getpid()},
        )
        return telemetry


def installed_telemetry() -> Telemetry | None:
    return _installed
