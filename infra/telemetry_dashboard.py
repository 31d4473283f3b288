"""The dashboard's rows built from the service's metrics in ``EnvConfig.telemetry_namespace`` (the
collector's EMF; the request metric from the access lines' metric filters) and the objectives'
burn rates.

Routes, tasks and queues are open-ended, so each graph is a CloudWatch SEARCH over the
dimension set infra/telemetry.py or infra/request_metrics.py publishes: a new route or task
appears without a deploy.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch

from infra.config import EnvConfig
from infra.request_metrics import HTTP_DURATION, REQUESTS, SERVER_ERRORS
from infra.slo import TIERS, ApiObjectives
from infra.telemetry import DB_DURATION, TASK_DURATION, TASK_RETRIES
from infra.worker_service import QUEUE_DEPTH_METRIC

ONE_MIN = Duration.minutes(1)
FIVE_MIN = Duration.minutes(5)


def search(
    namespace: str,
    dimensions: list[str],
    metric: str,
    statistic: str,
    period: Duration,
    label: str,
) -> cloudwatch.MathExpression:
    """Every series of ``metric`` with exactly ``dimensions`` (quoted: the names have dots)."""
    schema = ",".join(f'"{name}"' for name in [namespace, *dimensions])
    return cloudwatch.MathExpression(
        expression=(
            f"SEARCH('{{{schema}}} MetricName=\"{metric}\"', '{statistic}', "
            f"{int(period.to_seconds())})"
        ),
        using_metrics={},
        label=label,
        period=period,
    )


def _graph(
    title: str,
    left: list[cloudwatch.IMetric],
    right: list[cloudwatch.IMetric] | None = None,
    annotations: list[cloudwatch.HorizontalAnnotation] | None = None,
) -> cloudwatch.GraphWidget:
    """A third of a row."""
    return cloudwatch.GraphWidget(
        title=title, left=left, right=right, left_annotations=annotations, width=8
    )


def _rate_errors_duration(
    ns: str,
    dims: list[str],
    error_dims: list[str],
    metric: str,
    titles: tuple[str, str, str],
    period: Duration,
) -> list[cloudwatch.GraphWidget]:
    """One duration metric as a row: its count, its count under ``error_dims``, its p95."""
    count, errors, p95 = titles
    return [
        _graph(count, [search(ns, dims, metric, "SampleCount", period, "")]),
        _graph(errors, [search(ns, error_dims, metric, "SampleCount", period, "")]),
        _graph(p95, [search(ns, dims, metric, "p95", FIVE_MIN, "")]),
    ]


def telemetry_rows(config: EnvConfig, objectives: ApiObjectives) -> list[list[cloudwatch.IWidget]]:
    """Per route, per task, per queue, the clients' latency, and the objectives."""
    ns = config.telemetry_namespace
    task = ["service.name", "celery.task.name"]
    tasks = _rate_errors_duration(
        ns,
        task,
        [*task, "error.type"],
        TASK_DURATION,
        (
            "Task runs per task (per 5 minutes)",
            "Task failures per task (per 5 minutes)",
            "Task duration p95 (s)",
        ),
        FIVE_MIN,
    )
    tasks[0].add_right_metric(search(ns, task, TASK_RETRIES, "Sum", FIVE_MIN, "retries"))
    return [
        [
            # CloudWatch Logs' metric filters on the api's access lines (milliseconds).
            *_rate_errors_duration(
                ns,
                list(REQUESTS.dimensions),
                list(SERVER_ERRORS.dimensions),
                HTTP_DURATION,
                (
                    "Requests per route (per minute)",
                    "5xx per route (per minute)",
                    "p95 per route (ms)",
                ),
                ONE_MIN,
            )
        ],
        [*tasks],
        [
            _graph(
                "Celery backlog per queue",
                [
                    search(
                        config.metrics_namespace,
                        ["Queue"],
                        QUEUE_DEPTH_METRIC,
                        "Maximum",
                        ONE_MIN,
                        "",
                    )
                ],
            ),
            _graph(
                "MongoDB and Redis calls p95, as the tasks see them (s)",
                [
                    search(ns, ["service.name", system], DB_DURATION, "p95", FIVE_MIN, "")
                    for system in ("db.system.name", "db.system")
                ],
            ),
            _graph(
                f"SLO burn rates ({' / '.join(f'{t.rate:g}x' for t in TIERS)} page)",
                list(objectives.burn_rates.values()),
                annotations=[
                    cloudwatch.HorizontalAnnotation(value=t.rate, label=f"{t.rate:g}x")
                    for t in TIERS
                ],
            ),
        ],
    ]
