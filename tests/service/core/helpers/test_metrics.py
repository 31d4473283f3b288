"""Queue-depth metrics: to CloudWatch through boto3 when enabled (moto's server here), else to
the log; namespace Biwoco/<env> unless METRICS_NAMESPACE says otherwise."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from service.core.config import Settings
from service.core.helpers.metrics import (
    QUEUE_DEPTH_METRIC,
    CloudWatchMetricsPublisher,
    LogMetricsPublisher,
    build_metrics_publisher,
    queue_depth_points,
)
from service.core.logging import JsonFormatter


def test_the_namespace_defaults_to_the_environment(settings: Settings) -> None:
    assert settings.metrics_namespace_name == "Biwoco/test"
    named = settings.model_copy(update={"metrics_namespace": "Biwoco/staging"})
    assert named.metrics_namespace_name == "Biwoco/staging"


def test_without_cloudwatch_each_point_is_a_json_log_line(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    publisher = build_metrics_publisher(settings)
    assert isinstance(publisher, LogMetricsPublisher)
    caplog.set_level(logging.INFO, logger="service.core.helpers.metrics")
    publisher.publish(queue_depth_points({"default": 12, "email": 0, "files": 3}))
    lines = [json.loads(JsonFormatter().format(record)) for record in caplog.records]
    assert [(line["dimensions"], line["value"]) for line in lines] == [
        ({"Queue": "default"}, 12.0),
        ({"Queue": "email"}, 0.0),
        ({"Queue": "files"}, 3.0),
    ]
    assert {line["metric"] for line in lines} == {QUEUE_DEPTH_METRIC}
    assert {line["namespace"] for line in lines} == {"Biwoco/test"}


def test_with_cloudwatch_the_points_reach_the_namespace(
    settings: Settings, stack_env: dict[str, str], run_id: str
) -> None:
    endpoint = stack_env.get("S3_ENDPOINT_URL")
    if not endpoint:
        pytest.skip("moto's server is not part of this stack")
    configured = settings.model_copy(
        update={
            "cloudwatch_metrics_enabled": True,
            "cloudwatch_endpoint_url": endpoint,
            "cloudwatch_region": "us-east-1",
            "metrics_namespace": f"Biwoco/test-{run_id}",
        }
    )
    publisher = build_metrics_publisher(configured)
    assert isinstance(publisher, CloudWatchMetricsPublisher)
    publisher.publish(queue_depth_points({"default": 7, "email": 1, "files": 0}))

    cloudwatch = boto3.client("cloudwatch", endpoint_url=endpoint, region_name="us-east-1")
    metrics = cloudwatch.list_metrics(Namespace=f"Biwoco/test-{run_id}")["Metrics"]
    assert {m["MetricName"] for m in metrics} == {QUEUE_DEPTH_METRIC}
    assert sorted(d["Value"] for m in metrics for d in m.get("Dimensions", [])) == [
        "default",
        "email",
        "files",
    ]
    now = datetime.now(UTC)
    stats = cloudwatch.get_metric_statistics(
        Namespace=f"Biwoco/test-{run_id}",
        MetricName=QUEUE_DEPTH_METRIC,
        Dimensions=[{"Name": "Queue", "Value": "default"}],
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=5),
        Period=60,
        Statistics=["Maximum"],
    )
    assert [point["Maximum"] for point in stats["Datapoints"]] == [7.0]
