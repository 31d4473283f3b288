"""The libraries' instrumentations, on the process's providers.

Spans: Celery (publish and run, the context in the message headers), PyMongo (every command),
redis-py (every command, sync and asyncio), botocore (S3, SES, CloudWatch). Metrics, named as
OpenTelemetry's semantic conventions name them: `db.client.operation.duration` for Redis from
redis-py's own observability and for MongoDB from a command listener here (the PyMongo
instrumentation has no metrics); the task metrics of `tasks.py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
from opentelemetry.instrumentation.celery import CeleryInstrumentor
from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.metrics import Histogram, Meter
from pymongo import monitoring
from redis.observability import MetricGroup, OTelConfig, get_observability_instance

from service.core.telemetry.tasks import TaskMetrics

if TYPE_CHECKING:
    from service.core.telemetry.setup import Telemetry

# Seconds; the boundaries OpenTelemetry's semantic conventions advise for client operations.
DB_DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 10)


class MongoCommandDurations(monitoring.CommandListener):
    """`db.client.operation.duration` of every MongoDB command, sampled or not."""

    def __init__(self, meter: Meter) -> None:
        self._duration: Histogram = meter.create_histogram(
            "db.client.operation.duration",
            unit="s",
            description="Duration of database client operations.",
            explicit_bucket_boundaries_advisory=DB_DURATION_BUCKETS,
        )

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        pass

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._duration.record(
            event.duration_micros / 1e6,
            {
                "db.system.name": "mongodb",
                "db.operation.name": event.command_name,
                "db.namespace": event.database_name,
            },
        )

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        failure = event.failure if isinstance(event.failure, dict) else {}
        self._duration.record(
            event.duration_micros / 1e6,
            {
                "db.system.name": "mongodb",
                "db.operation.name": event.command_name,
                "db.namespace": event.database_name,
                "error.type": str(failure.get("codeName") or "_OTHER"),
            },
        )


def instrument_libraries(telemetry: Telemetry) -> None:
    """Once per process, before its clients are created (listeners apply to new clients)."""
    tracer_provider, meter_provider = telemetry.tracer_provider, telemetry.meter_provider
    # (The Celery and botocore instrumentations ship without type information.)
    celery: Any = CeleryInstrumentor()  # type: ignore[no-untyped-call]
    celery.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    PymongoInstrumentor().instrument(tracer_provider=tracer_provider)
    RedisInstrumentor().instrument(tracer_provider=tracer_provider)
    botocore: Any = BotocoreInstrumentor()  # type: ignore[no-untyped-call]
    botocore.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    monitoring.register(MongoCommandDurations(meter_provider.get_meter("biwoco.mongodb")))
    # redis-py's own metrics read the global meter provider (install_telemetry set it).
    get_observability_instance().init(
        OTelConfig(metric_groups=[MetricGroup.COMMAND, MetricGroup.RESILIENCY])
    )
    if telemetry.role == "worker":
        TaskMetrics(meter_provider.get_meter("biwoco.celery")).connect()
