"""The OpenTelemetry collector beside each app container: the AWS Distro for OpenTelemetry (ADOT)
as a non-essential sidecar of the api, worker and beat tasks, traces to X-Ray, metrics to
CloudWatch as embedded metric format (EMF) logs, and the task role's rights to do so.

Why a sidecar and not CloudWatch Application Signals: docs/operations.md ("In production").
"""

from __future__ import annotations

import json
from typing import Any, Final

from aws_cdk import Duration
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import EnvConfig
from infra.nag import acknowledge
from infra.retention import retention_days

# ECR Public, never Docker Hub (anonymous pulls from CodeBuild and Fargate get 429s). Pinned:
# a new collector is a reviewed change, like any other image.
ADOT_VERSION: Final = "v0.49.0"
COLLECTOR_IMAGE: Final = f"public.ecr.aws/aws-observability/aws-otel-collector:{ADOT_VERSION}"
COLLECTOR_NAME: Final = "otel-collector"
# OTLP/HTTP, the service's default TELEMETRY_OTLP_ENDPOINT; on the task's loopback only (awsvpc:
# the task's containers share one network namespace, nothing outside the task reaches it).
OTLP_HTTP_PORT: Final = 4318
OTLP_ENDPOINT: Final = f"http://127.0.0.1:{OTLP_HTTP_PORT}"
HEALTH_PORT: Final = 13133
# Small: the collector batches and forwards. The hard limit caps it, so a leak in the collector
# kills the collector (non-essential: the task lives on), never the app; its memory limiter
# refuses data before that.
COLLECTOR_CPU: Final = 64
COLLECTOR_MEMORY_RESERVATION_MIB: Final = 64
COLLECTOR_MEMORY_LIMIT_MIB: Final = 256
MEMORY_LIMITER_MIB: Final = 200
MEMORY_SPIKE_MIB: Final = 50

# What the X-Ray exporter calls (sampling is the SDK's, parent-based ratio: the collector never
# asks X-Ray for sampling rules), and what the EMF exporter calls on its own log group.
XRAY_ACTIONS: Final = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")
EMF_LOG_ACTIONS: Final = ("logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents")

# The EMF metrics and their dimension sets (each set a CloudWatch metric per value; a data point
# lacking a set's attributes is not published under it, and a metric named here by none is
# kept in the log group only). `service.name` is the resource attribute
# (`<prefix>-api` ...), copied onto every point by resource_to_telemetry_conversion.
TASK_DURATION: Final = "messaging.process.duration"
TASK_RETRIES: Final = "celery.task.retries"
DB_DURATION: Final = "db.client.operation.duration"
METRIC_DIMENSIONS: Final[dict[str, list[list[str]]]] = {
    # (Not the API's http.server.request.duration: CloudWatch Logs derives it from the access
    # lines, infra/request_metrics.py.)
    # Runs per task; failures per task (error.type); the state (SUCCESS, FAILURE, RETRY).
    TASK_DURATION: [
        ["service.name", "celery.task.name"],
        ["service.name", "celery.task.name", "error.type"],
    ],
    TASK_RETRIES: [["service.name", "celery.task.name"]],
    # MongoDB's listener names the system db.system.name, redis-py still db.system.
    DB_DURATION: [["service.name", "db.system.name"], ["service.name", "db.system"]],
    # Not `celery.queue.depth`: beat already publishes each queue's depth (CeleryQueueDepth, the
    # dashboard's and autoscaling's); it stays in the EMF log lines, not a second metric.
}


def collector_config(config: EnvConfig, log_group_name: str) -> dict[str, Any]:
    """The collector's configuration (AOT_CONFIG_CONTENT, as JSON, which is YAML)."""
    return {
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{HEALTH_PORT}"}},
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": f"127.0.0.1:{OTLP_HTTP_PORT}"}}}},
        "processors": {
            "memory_limiter": {
                "check_interval": "1s",
                "limit_mib": MEMORY_LIMITER_MIB,
                "spike_limit_mib": MEMORY_SPIKE_MIB,
            },
            "batch/traces": {"timeout": "1s", "send_batch_size": 50},
            # One EMF batch a minute, the SDK's export interval.
            "batch/metrics": {"timeout": "60s"},
        },
        "exporters": {
            "awsxray": {
                "region": config.region,
                # Searchable in X-Ray (annotations): traces of one route or one task.
                "indexed_attributes": ["http.route", "celery.task_name"],
            },
            "awsemf": {
                "region": config.region,
                "namespace": config.telemetry_namespace,
                "log_group_name": log_group_name,
                "log_stream_name": "{TaskId}",
                "dimension_rollup_option": "NoDimensionRollup",
                "resource_to_telemetry_conversion": {"enabled": True},
                "metric_declarations": [
                    {"dimensions": dims, "metric_name_selectors": [f"^{name.replace('.', '[.]')}$"]}
                    for name, dims in METRIC_DIMENSIONS.items()
                ],
            },
        },
        "service": {
            "extensions": ["health_check"],
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["memory_limiter", "batch/traces"],
                    "exporters": ["awsxray"],
                },
                "metrics": {
                    "receivers": ["otlp"],
                    "processors": ["memory_limiter", "batch/metrics"],
                    "exporters": ["awsemf"],
                },
            },
        },
    }


def app_environment(config: EnvConfig) -> dict[str, str]:
    """What an app container needs to send its telemetry to the sidecar (service settings)."""
    return {
        "TELEMETRY_ENABLED": "true",
        "TELEMETRY_EXPORTER": "otlp",
        "TELEMETRY_OTLP_ENDPOINT": OTLP_ENDPOINT,
        "TELEMETRY_SERVICE_NAME": config.prefix,
        "TELEMETRY_SAMPLE_RATIO": str(config.telemetry.sample_ratio),
        # CloudWatch Logs derives the API's request metric from its access lines
        # (infra/request_metrics.py): the SDK does not measure it a second time.
        "TELEMETRY_HTTP_DURATION_METRIC": "false",
        # The SDK's own settings. The EMF exporter publishes a histogram's buckets (so CloudWatch
        # has percentiles) only for exponential histograms, and converts no histogram from
        # cumulative to delta: both are asked of the SDK's OTLP exporter here.
        "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION": (
            "base2_exponential_bucket_histogram"
        ),
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "delta",
        # ECS stops the collector with the app (no dependency between them), so the app's last
        # flush may find no one listening: the SDK's default 10 s of retries per signal would
        # delay every stop by up to 15 s. A local export takes milliseconds.
        "OTEL_EXPORTER_OTLP_TIMEOUT": "2",
    }


class Telemetry(Construct):
    """The EMF log group and the task role's X-Ray and log rights, once per environment;
    :meth:`add_collector` puts the sidecar into one task definition."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvConfig, task_role: iam.IRole
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.metrics_log_group = logs.LogGroup(
            self,
            "MetricsLogs",
            log_group_name=f"/biwoco/{config.name}/telemetry-metrics",
            retention=retention_days(config.observability.log_retention_days),
            removal_policy=config.removal_policy,
        )
        self.policy = iam.Policy(
            self,
            "CollectorPolicy",
            statements=[
                iam.PolicyStatement(
                    sid="TracesToXRay", actions=list(XRAY_ACTIONS), resources=["*"]
                ),
                iam.PolicyStatement(
                    sid="MetricsToOwnLogGroup",
                    actions=list(EMF_LOG_ACTIONS),
                    resources=[self.metrics_log_group.log_group_arn],
                ),
            ],
        )
        self.policy.attach_to_role(task_role)
        acknowledge(
            self.policy,
            "AwsSolutions-IAM5[Resource::*]",
            "xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level "
            "permissions (X-Ray documents '*' only); the log statement is scoped to the EMF "
            "log group.",
        )
        self.config_content = json.dumps(
            collector_config(config, self.metrics_log_group.log_group_name), sort_keys=True
        )

    def add_collector(
        self,
        task_definition: ecs.TaskDefinition,
        app: ecs.ContainerDefinition,
        log_group: logs.ILogGroup,
    ) -> ecs.ContainerDefinition:
        """The sidecar in ``task_definition`` and the telemetry settings of its ``app``
        container. The app does not wait for it (no container dependency): without a
        collector the SDK's exports fail in the background and requests are unaffected."""
        collector = task_definition.add_container(
            COLLECTOR_NAME,
            container_name=COLLECTOR_NAME,
            image=ecs.ContainerImage.from_registry(COLLECTOR_IMAGE),
            essential=False,
            cpu=COLLECTOR_CPU,
            memory_reservation_mib=COLLECTOR_MEMORY_RESERVATION_MIB,
            memory_limit_mib=COLLECTOR_MEMORY_LIMIT_MIB,
            environment={"AOT_CONFIG_CONTENT": self.config_content},
            logging=ecs.LogDrivers.aws_logs(stream_prefix=COLLECTOR_NAME, log_group=log_group),
            # The image is a static binary on scratch that writes no file (no file storage).
            readonly_root_filesystem=True,
            # The image's own probe of the health_check extension; for a non-essential
            # container it is information only (task health follows essential containers).
            health_check=ecs.HealthCheck(
                command=["CMD", "/healthcheck"],
                interval=Duration.seconds(30),
                timeout=Duration.seconds(5),
                retries=3,
                start_period=Duration.seconds(10),
            ),
        )
        for key, value in app_environment(self.config).items():
            app.add_environment(key, value)
        return collector
