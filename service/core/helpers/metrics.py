"""Operational metrics: CloudWatch through boto3 when configured, else one log line per point.

The worker service's autoscaling (infra) follows `CeleryBacklog` (every queue summed) per running
worker task; `CeleryQueueDepth` (dimension `Queue`) shows each queue. Both are in the namespace
`METRICS_NAMESPACE` (default `Biwoco/<app_env>`), published by beat (celery_task/backlog.py).
With telemetry on, the same readings are also the OpenTelemetry gauge `celery.queue.depth`
(`{message}`, attribute `messaging.destination.name`), exported with the process's metrics.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

import boto3
from opentelemetry import metrics

from service.core.config import Settings

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch.client import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricDatumTypeDef

logger = logging.getLogger(__name__)

QUEUE_DEPTH_METRIC = "CeleryQueueDepth"
BACKLOG_METRIC = "CeleryBacklog"


@dataclass(frozen=True, slots=True)
class MetricPoint:
    name: str
    value: float
    dimensions: Mapping[str, str] = field(default_factory=dict)
    unit: str = "Count"


class MetricsPublisher(Protocol):
    namespace: str

    def publish(self, points: list[MetricPoint]) -> None: ...


class LogMetricsPublisher:
    """One structured log line per point (`metric`, `namespace`, `value`, `dimensions`)."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace

    def publish(self, points: list[MetricPoint]) -> None:
        for point in points:
            logger.info(
                "metric",
                extra={
                    "metric": point.name,
                    "namespace": self.namespace,
                    "value": point.value,
                    "unit": point.unit,
                    "dimensions": dict(point.dimensions),
                },
            )


class CloudWatchMetricsPublisher:
    # PutMetricData takes at most 1000 data points per call.
    _BATCH = 1000

    def __init__(self, namespace: str, client: CloudWatchClient) -> None:
        self.namespace = namespace
        self._client = client

    def publish(self, points: list[MetricPoint]) -> None:
        now = datetime.now(UTC)
        data: list[MetricDatumTypeDef] = [
            {
                "MetricName": point.name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in point.dimensions.items()],
                "Timestamp": now,
                "Value": point.value,
                "Unit": point.unit,  # type: ignore[typeddict-item]
            }
            for point in points
        ]
        for start in range(0, len(data), self._BATCH):
            self._client.put_metric_data(
                Namespace=self.namespace, MetricData=data[start : start + self._BATCH]
            )


class OpenTelemetryQueueDepth:
    """Each queue's depth as the gauge `celery.queue.depth` of the global meter provider."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self._depth = metrics.get_meter("biwoco.celery").create_gauge(
            "celery.queue.depth", unit="{message}", description="Messages waiting in a queue."
        )

    def publish(self, points: list[MetricPoint]) -> None:
        for point in points:
            if point.name == QUEUE_DEPTH_METRIC:
                self._depth.set(
                    point.value,
                    {
                        "messaging.system": "celery",
                        "messaging.destination.name": point.dimensions["Queue"],
                    },
                )


class FanOutPublisher:
    """Every point to each publisher, in order."""

    def __init__(self, namespace: str, publishers: list[MetricsPublisher]) -> None:
        self.namespace = namespace
        self._publishers = publishers

    def publish(self, points: list[MetricPoint]) -> None:
        for publisher in self._publishers:
            publisher.publish(points)


def build_metrics_publisher(settings: Settings) -> MetricsPublisher:
    namespace = settings.metrics_namespace_name
    publisher: MetricsPublisher
    if not settings.cloudwatch_metrics_enabled:
        publisher = LogMetricsPublisher(namespace)
    else:
        client = boto3.client(
            "cloudwatch",
            region_name=settings.cloudwatch_region,
            endpoint_url=settings.cloudwatch_endpoint_url,
        )
        publisher = CloudWatchMetricsPublisher(namespace, client)
    if settings.telemetry_enabled:
        return FanOutPublisher(namespace, [publisher, OpenTelemetryQueueDepth(namespace)])
    return publisher


def queue_depth_points(depths: Mapping[str, int]) -> list[MetricPoint]:
    return [
        MetricPoint(QUEUE_DEPTH_METRIC, float(depth), {"Queue": queue})
        for queue, depth in sorted(depths.items())
    ]


def backlog_points(depths: Mapping[str, int]) -> list[MetricPoint]:
    """Each queue's depth and their total (what the worker scales on), one timestamp."""
    total = MetricPoint(BACKLOG_METRIC, float(sum(depths.values())))
    return [*queue_depth_points(depths), total]
