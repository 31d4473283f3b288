"""Observability: the alarm topic, the alarms, the API's objectives (infra/slo.py) and the
dashboard (its OpenTelemetry rows: infra/telemetry_dashboard.py)."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.cache import Cache, RedisGroup
from infra.config import EnvConfig
from infra.documentdb import DocumentDb
from infra.service import Service
from infra.slo import ApiObjectives, alb_5xx
from infra.telemetry_dashboard import telemetry_rows

FIVE_MIN = Duration.minutes(5)
ONE_MIN = Duration.minutes(1)


def docdb_metric(documentdb: DocumentDb, name: str, statistic: str) -> cloudwatch.Metric:
    """A DocumentDB cluster metric over five minutes."""
    return cloudwatch.Metric(
        namespace="AWS/DocDB",
        metric_name=name,
        dimensions_map={"DBClusterIdentifier": documentdb.cluster.cluster_identifier},
        period=FIVE_MIN,
        statistic=statistic,
    )


def cache_max(
    group: RedisGroup, name: str, statistic: str, label: str
) -> cloudwatch.MathExpression:
    """The worst node of an ElastiCache replication group."""
    prefix = "".join(c for c in name if c.isupper()).lower()
    metrics: dict[str, cloudwatch.IMetric] = {
        f"{group.role}{prefix}{i}": cloudwatch.Metric(
            namespace="AWS/ElastiCache",
            metric_name=name,
            dimensions_map={"CacheClusterId": node},
            period=FIVE_MIN,
            statistic=statistic,
        )
        for i, node in enumerate(group.member_cluster_ids)
    }
    return cloudwatch.MathExpression(
        expression=f"MAX([{', '.join(metrics)}])",
        using_metrics=metrics,
        label=f"{group.role}: {label}",
        period=FIVE_MIN,
    )


class Observability(Construct):
    """An encrypted SNS topic (email subscription) and alarms on the ALB, the ECS services,
    DocumentDB, ElastiCache and the Celery backlog, plus one dashboard. One method per
    concern; every alarm goes to the topic (alarm and OK)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvConfig,
        service: Service,
        documentdb: DocumentDb,
        cache: Cache,
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self._topic()
        five_xx = self._api_alarms(service)
        self._ecs_alarms(service)
        self._documentdb_alarms(documentdb)
        self._cache_alarms(cache)
        self._celery_alarms(service)
        self._rotation_events(documentdb)
        self.objectives = ApiObjectives(
            self,
            "Slo",
            config=config,
            alb=service.alb,
            target_group=service.target_group,
            action=self._action,
        )
        self._dashboard(service, documentdb, cache, five_xx)

    def _topic(self) -> None:
        config = self.config
        self.key = kms.Key(
            self,
            "TopicKey",
            description=f"{config.prefix}: alarm topic encryption",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # CloudWatch must be able to publish to an encrypted topic.
        self.key.grant(
            iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*"
        )
        self.topic = sns.Topic(
            self,
            "Alarms",
            topic_name=f"{config.prefix}-alarms",
            display_name=f"biwoco {config.name} alarms",
            master_key=self.key,
            enforce_ssl=True,
        )
        self.topic.add_subscription(
            subscriptions.EmailSubscription(config.observability.alarm_email)
        )
        self._action = cw_actions.SnsAction(self.topic)

    def _alarm(
        self,
        name: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        *,
        periods: int = 3,
        description: str,
        comparison: cloudwatch.ComparisonOperator = (
            cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
        ),
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) -> cloudwatch.Alarm:
        created = cloudwatch.Alarm(
            self,
            name,
            alarm_name=f"{self.config.prefix}-{name}",
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=periods,
            datapoints_to_alarm=periods,
            comparison_operator=comparison,
            treat_missing_data=missing,
        )
        created.add_alarm_action(self._action)
        created.add_ok_action(self._action)
        self.alarms[name] = created
        return created

    def _api_alarms(self, service: Service) -> cloudwatch.MathExpression:
        """5xx rate, p95 latency and unhealthy targets; the first and last roll back an api
        deployment. Returns the 5xx-rate expression (the dashboard graphs it)."""
        obs = self.config.observability
        alb = service.alb
        tg = service.target_group
        five_xx = cloudwatch.MathExpression(
            expression="IF(req > 0, 100 * (FILL(elb, 0) + FILL(tgt, 0)) / req, 0)",
            using_metrics={
                **alb_5xx(alb, FIVE_MIN),
                "req": alb.metrics.request_count(period=FIVE_MIN, statistic="Sum"),
            },
            label="5xx %",
            period=FIVE_MIN,
        )
        self._alarm(
            "Alb5xxRate",
            five_xx,
            obs.alb_5xx_percent,
            periods=2,
            description=f"More than {obs.alb_5xx_percent}% of API requests end in a 5xx",
        )
        self._alarm(
            "ApiLatencyP95",
            tg.metrics.target_response_time(period=FIVE_MIN, statistic="p95"),
            obs.p95_latency_ms / 1000,
            description=f"API p95 latency above {obs.p95_latency_ms} ms",
        )
        self._alarm(
            "ApiUnhealthyTargets",
            tg.metrics.unhealthy_host_count(period=ONE_MIN, statistic="Maximum"),
            0,
            periods=3,
            description="At least one api task fails the ALB health check",
        )

        # A deployment of the api that drives these into ALARM is rolled back by ECS (beside
        # the circuit breaker, which sees only tasks that fail to start or turn unhealthy).
        # They watch the ALB, not the service, so the service can wait for them to exist.
        deployment_alarms = [self.alarms["Alb5xxRate"], self.alarms["ApiUnhealthyTargets"]]
        service.api.service.enable_deployment_alarms(
            [a.alarm_name for a in deployment_alarms],
            behavior=ecs.AlarmBehavior.ROLLBACK_ON_ALARM,
        )
        for deployment_alarm in deployment_alarms:
            service.api.service.node.add_dependency(deployment_alarm)
        return five_xx

    def _ecs_alarms(self, service: Service) -> None:
        """CPU and memory of each service."""
        for app in service.services:
            self._alarm(
                f"{app.name.capitalize()}Cpu",
                app.service.metric_cpu_utilization(period=FIVE_MIN, statistic="Average"),
                85,
                description=f"{app.name} CPU above 85%",
            )
            self._alarm(
                f"{app.name.capitalize()}Memory",
                app.service.metric_memory_utilization(period=FIVE_MIN, statistic="Average"),
                85,
                description=f"{app.name} memory above 85%",
            )

    def _documentdb_alarms(self, documentdb: DocumentDb) -> None:
        obs = self.config.observability
        self._alarm(
            "DocumentDbCpu",
            docdb_metric(documentdb, "CPUUtilization", "Maximum"),
            80,
            description="DocumentDB CPU above 80%",
        )
        self._alarm(
            "DocumentDbConnections",
            docdb_metric(documentdb, "DatabaseConnections", "Maximum"),
            obs.documentdb_connections_alarm,
            description=f"DocumentDB connections above {obs.documentdb_connections_alarm}",
        )

    def _cache_alarms(self, cache: Cache) -> None:
        """Engine CPU of each group; memory and evictions of the state group."""
        state = cache.state
        for group in cache.groups:
            self._alarm(
                f"{group.role.capitalize()}RedisCpu",
                cache_max(group, "EngineCPUUtilization", "Maximum", "Engine CPU % (max node)"),
                80,
                description=f"ElastiCache {group.role} engine CPU above 80%",
            )
        # noeviction: at 100% every write of the broker and the auth state fails (the API
        # answers 503, jobs cannot be queued). Page at 75%, with time to scale the node type.
        self._alarm(
            "StateRedisMemory",
            cache_max(state, "DatabaseMemoryUsagePercentage", "Maximum", "Memory % (max node)"),
            75,
            description="ElastiCache state group (noeviction: broker, auth state) memory above "
            "75%: at 100% writes fail; scale its node type (docs/operations.md)",
        )
        self._alarm(
            "StateRedisEvictions",
            cache_max(state, "Evictions", "Sum", "Evictions (max node)"),
            0,
            periods=1,
            description="The state group evicted keys: its maxmemory-policy is no longer "
            "noeviction (revoked tokens could come back); restore the parameter group",
        )
        # The cache group evicts by design; evictions there are a sizing signal only.

    def _celery_alarms(self, service: Service) -> None:
        """The backlog (published by beat, out of band), and its absence."""
        obs = self.config.observability
        self._alarm(
            "QueueDepth",
            service.backlog.with_(period=FIVE_MIN),
            obs.queue_depth_alarm,
            description=f"Celery backlog above {obs.queue_depth_alarm} for 15 minutes",
        )
        # Without readings the worker neither scales out nor in: page when they stop.
        self._alarm(
            "BacklogMetricMissing",
            service.backlog.with_(period=FIVE_MIN, statistic="SampleCount"),
            1,
            periods=2,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            missing=cloudwatch.TreatMissingData.BREACHING,
            description="No Celery backlog reading for 10 minutes (is beat running?): the "
            "worker service cannot autoscale",
        )

    def _rotation_events(self, documentdb: DocumentDb) -> None:
        # A failed rotation breaks nothing at once (alternating users keep the previous
        # credentials valid), but the next one would: tell someone.
        events.Rule(
            self,
            "RotationFailed",
            description=f"{self.config.prefix}: a DocumentDB secret failed to rotate",
            event_pattern=DocumentDb.rotation_events(
                ["RotationFailed", "RotationAbandoned"], documentdb.rotated_secrets
            ),
            targets=[targets.SnsTopic(self.topic)],
        )
        self.key.grant(
            iam.ServicePrincipal("events.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*"
        )

    def _dashboard(
        self,
        service: Service,
        documentdb: DocumentDb,
        cache: Cache,
        five_xx: cloudwatch.MathExpression,
    ) -> None:
        alb = service.alb
        tg = service.target_group
        state, read_cache = cache.state, cache.cache
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{self.config.prefix}",
            default_interval=Duration.hours(6),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="API requests", left=[alb.metrics.request_count(period=ONE_MIN)], width=8
            ),
            cloudwatch.GraphWidget(title="API 5xx %", left=[five_xx], width=8),
            cloudwatch.GraphWidget(
                title="API latency p95 (s)",
                left=[tg.metrics.target_response_time(period=ONE_MIN, statistic="p95")],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="ECS CPU %",
                left=[a.service.metric_cpu_utilization(period=ONE_MIN) for a in service.services],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="ECS memory %",
                left=[
                    a.service.metric_memory_utilization(period=ONE_MIN) for a in service.services
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Celery backlog",
                left=[service.backlog],
                right=[service.backlog_per_task],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="DocumentDB",
                left=[docdb_metric(documentdb, "CPUUtilization", "Maximum")],
                right=[docdb_metric(documentdb, "DatabaseConnections", "Maximum")],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="ElastiCache",
                left=[
                    metric
                    for group in (state, read_cache)
                    for metric in (
                        cache_max(group, "EngineCPUUtilization", "Maximum", "Engine CPU %"),
                        cache_max(group, "DatabaseMemoryUsagePercentage", "Maximum", "Memory %"),
                    )
                ],
                right=[cache_max(g, "Evictions", "Sum", "Evictions") for g in (state, read_cache)],
                width=12,
            ),
        )
        # The service's own view (OpenTelemetry, per route and task) and the objectives.
        for row in telemetry_rows(self.config, self.objectives):
            self.dashboard.add_widgets(*row)
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title="Alarms",
                alarms=[*self.alarms.values(), *self.objectives.composites.values()],
                width=24,
            )
        )
