"""The ``worker`` service: Celery, scaled on the backlog per running task."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ecs as ecs
from constructs import Construct

from infra.app_service import CELERY_APP, AppService, TaskBase

QUEUE_DEPTH_METRIC = "CeleryQueueDepth"
BACKLOG_METRIC = "CeleryBacklog"
# Fargate's longest stop timeout: after SIGTERM, a worker gets this long to finish its running
# tasks (Celery's warm shutdown) before SIGKILL.
WORKER_STOP_TIMEOUT_SECONDS = 120
# Every task ends (or is ended by Celery) inside that window, so no deploy, scale-in or
# post-rotation redeploy kills one mid-run (with acks_late it would come back only after the
# broker's visibility timeout, an hour). Work that needs longer is split into tasks.
CELERY_TASK_TIME_LIMIT_SECONDS = 105
CELERY_TASK_SOFT_TIME_LIMIT_SECONDS = 90
# The worker answers a broadcast ping through the broker only while its consumer loop runs
# (a stuck or disconnected worker fails it; ECS replaces the task).
WORKER_PING = (
    f"celery -A {CELERY_APP} inspect ping --timeout 10 "
    "--destination \"celery@$(python -c 'import socket; print(socket.gethostname())')\""
)


def queue_depth_metric(namespace: str, queue: str, period: Duration) -> cloudwatch.Metric:
    """One queue's depth (beat publishes it beside the total; dashboards show it)."""
    return cloudwatch.Metric(
        namespace=namespace,
        metric_name=QUEUE_DEPTH_METRIC,
        dimensions_map={"Queue": queue},
        statistic="Maximum",
        period=period,
    )


def backlog_metric(namespace: str, period: Duration = Duration.minutes(1)) -> cloudwatch.Metric:
    """Messages waiting in every Celery queue, published by beat out of band (it is read from
    beat's own thread, never by a task that waits in the queue it measures)."""
    return cloudwatch.Metric(
        namespace=namespace,
        metric_name=BACKLOG_METRIC,
        statistic="Maximum",
        period=period,
        label="Celery backlog (all queues)",
    )


def backlog_per_task(
    namespace: str, cluster_name: str, service_name: str, period: Duration = Duration.minutes(1)
) -> cloudwatch.MathExpression:
    """The backlog per running worker task: what one more (or one fewer) worker changes.

    No FILL: a period without a backlog reading has no value, so the scaling alarms see
    INSUFFICIENT_DATA and do nothing (a gap is never read as an empty queue). The divisor
    keeps a service at 0 running tasks (all stopped, or Container Insights late) from
    dividing by zero; then the whole backlog counts against one task and it scales out.
    (IF(running > 1, ...) keeps it at least 1 without inventing a value where none is.)
    """
    running = cloudwatch.Metric(
        namespace="ECS/ContainerInsights",
        metric_name="RunningTaskCount",
        dimensions_map={"ClusterName": cluster_name, "ServiceName": service_name},
        statistic="Average",
        period=period,
    )
    return cloudwatch.MathExpression(
        expression="backlog / IF(running > 1, running, 1)",
        using_metrics={"backlog": backlog_metric(namespace, period), "running": running},
        label="Celery backlog per running worker task",
        period=period,
    )


class WorkerService(AppService):
    """No load balancer; the backlog (``CeleryBacklog``, published by beat) per running task
    scales it in steps, and a missing reading never scales it in."""

    def __init__(self, scope: Construct, construct_id: str, *, base: TaskBase) -> None:
        config = base.config
        super().__init__(
            scope,
            construct_id,
            base=base,
            name="worker",
            size=config.service.worker,
            command=["celery", "-A", CELERY_APP, "worker", "--loglevel=INFO"],
            desired=None,
            min_healthy_percent=100,
            max_healthy_percent=200,
            stop_timeout=Duration.seconds(WORKER_STOP_TIMEOUT_SECONDS),
            health_check=ecs.HealthCheck(
                command=["CMD-SHELL", WORKER_PING],
                interval=Duration.seconds(60),
                timeout=Duration.seconds(20),
                retries=3,
                start_period=Duration.seconds(60),
            ),
        )
        self.backlog = backlog_metric(config.metrics_namespace)
        self.backlog_per_task = backlog_per_task(
            config.metrics_namespace, base.cluster.cluster_name, self.service.service_name
        )
        scaling = self.service.auto_scale_task_count(
            min_capacity=config.service.worker.min_tasks,
            max_capacity=config.service.worker.max_tasks,
        )
        scaling.scale_on_metric(
            "Backlog",
            metric=self.backlog_per_task,
            adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            scaling_steps=[
                # Less than one waiting message per task: one task fewer.
                appscaling.ScalingInterval(upper=1, change=-1),
                appscaling.ScalingInterval(
                    lower=config.service.worker_scale_out_backlog_per_task, change=1
                ),
                appscaling.ScalingInterval(
                    lower=config.service.worker_scale_out_fast_backlog_per_task, change=3
                ),
            ],
            cooldown=Duration.seconds(120),
            evaluation_periods=2,
        )
        # A period without a reading (beat down, CloudWatch late) is no evidence of an empty
        # queue: for the scale-in alarm a missing point is "not breaching", so only two real
        # readings below 1 per task remove a worker (the scale-out alarm keeps the default,
        # INSUFFICIENT_DATA, no action). Observability alarms when the backlog stops arriving.
        backlog_scaling = scaling.node.find_child("Target").node.find_child("Backlog")
        assert isinstance(backlog_scaling, appscaling.StepScalingPolicy)
        lower_alarm = backlog_scaling.lower_alarm
        assert lower_alarm is not None
        cfn_lower = lower_alarm.node.default_child
        assert isinstance(cfn_lower, cloudwatch.CfnAlarm)
        cfn_lower.treat_missing_data = "notBreaching"
