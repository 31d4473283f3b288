"""Service: the ECS cluster and the api / worker / beat services of the one image."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.app_secrets import AppSecrets
from infra.auth import Auth
from infra.cache import Cache
from infra.config import REPO_ROOT, EnvConfig, ScaledService
from infra.db_users import DbUsers
from infra.documentdb import DB_NAME, DocumentDb
from infra.mail import grant_send, task_environment
from infra.nag import acknowledge
from infra.network import Network
from infra.retention import retention_days
from infra.uploads import Uploads

API_PORT = 8000
# The api keeps idle connections longer (Settings.http_keep_alive_seconds), so the ALB never
# reuses one the server is closing.
ALB_IDLE_TIMEOUT_SECONDS = 60
HEALTH_PATH = "/healthz/live"
# The worker bootstrap: the Celery app built from the module list. The worker consumes every
# queue it declares (core's and each module's), so no queue list is repeated here.
CELERY_APP = "service.app.worker"
QUEUE_DEPTH_METRIC = "CeleryQueueDepth"
BACKLOG_METRIC = "CeleryBacklog"
RDS_CA_BUNDLE = "/app/certs/global-bundle.pem"
# Fargate's longest stop timeout: after SIGTERM, a worker gets this long to finish its running
# tasks (Celery's warm shutdown) before SIGKILL.
WORKER_STOP_TIMEOUT_SECONDS = 120
# Every task ends (or is ended by Celery) inside that window, so no deploy, scale-in or
# post-rotation redeploy kills one mid-run (with acks_late it would come back only after the
# broker's visibility timeout, an hour). Work that needs longer is split into tasks.
CELERY_TASK_TIME_LIMIT_SECONDS = 105
CELERY_TASK_SOFT_TIME_LIMIT_SECONDS = 90
# The one writable path under the read-only root filesystem: a task volume at a path the
# image declares with VOLUME (so Fargate gives it the image's mode 1777, not root 0755).
SCRATCH_PATH = "/tmp"  # noqa: S108 - a task-local scratch volume, see the Dockerfile
BEAT_SCHEDULE_FILE = f"{SCRATCH_PATH}/celerybeat-schedule"
# Container health checks of the worker and beat (the api's probes /healthz/live).
WORKER_PING = (
    f"celery -A {CELERY_APP} inspect ping --timeout 10 "
    "--destination \"celery@$(python -c 'import socket; print(socket.gethostname())')\""
)
BEAT_ALIVE = (
    "import os, sys, time; "
    "age = time.time() - os.path.getmtime(os.environ['CELERY_BEAT_SCHEDULE_FILE'] + '.alive'); "
    "sys.exit(0 if age < 90 else 1)"
)

# Everything that is not needed to build the image stays out of the asset (and out of
# its hash, so editing docs or tests does not rebuild or redeploy the image).
IMAGE_EXCLUDES = (
    ".git",
    ".venv",
    ".stack",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "**/__pycache__",
    "cdk.out",
    "node_modules",
    "tests",
    "docs",
    "bench",
    "infra",
    "pipelines",
    "app.py",
    "cdk.json",
    "cdk.context.json",
    "*.egg-info",
)


@dataclass(frozen=True)
class AppService:
    """One ECS service with the pieces other constructs refer to."""

    name: str
    service: ecs.FargateService
    task_definition: ecs.FargateTaskDefinition
    container: ecs.ContainerDefinition
    log_group: logs.LogGroup
    security_group: ec2.SecurityGroup


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


class Service(Construct):
    """ECS cluster (Container Insights) running ONE image built from the repository's
    ``Dockerfile`` as three services:

    * ``api``: behind an internal ALB (reached only through CloudFront), health checked
      on ``/healthz/live``, autoscaled on CPU and requests per target.
    * ``worker``: no load balancer, autoscaled on the Celery backlog (``CeleryBacklog``,
      published by beat) per running worker task; a missing reading never scales in.
    * ``beat``: exactly one task (desired = min = max = 1, never two during a deploy).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvConfig,
        network: Network,
        documentdb: DocumentDb,
        cache: Cache,
        uploads: Uploads,
        auth: Auth,
        app_secrets: AppSecrets,
        access_logs: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        vpc = network.vpc

        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            cluster_name=config.prefix,
            vpc=vpc,
            container_insights_v2=ecs.ContainerInsights.ENHANCED
            if config.production
            else ecs.ContainerInsights.ENABLED,
        )
        self.image_asset = ecr_assets.DockerImageAsset(
            self,
            "Image",
            directory=str(REPO_ROOT),
            file="Dockerfile",
            exclude=list(IMAGE_EXCLUDES),
            platform=ecr_assets.Platform.LINUX_AMD64,
        )
        self.image = ecs.ContainerImage.from_docker_image_asset(self.image_asset)

        # One task role for the three services: they run the same code base, and each
        # needs the same narrow rights (the api presigns and checks uploads, the worker
        # post-processes and deletes them, and both publish metrics).
        self.task_role = iam.Role(
            self,
            "TaskRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description=f"{config.prefix}: api/worker/beat task role",
        )
        uploads.grant_service_access(self.task_role)
        self.task_role.add_to_policy(
            iam.PolicyStatement(
                sid="PutMetricsInOwnNamespace",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": config.metrics_namespace}},
            )
        )
        grant_send(self.task_role, config=config)

        self.environment = {
            "APP_ENV": config.name,
            "MONGODB_URL": documentdb.mongodb_url(),
            "MONGODB_DB": DB_NAME,
            "MONGODB_TLS_CA_FILE": RDS_CA_BUNDLE,
            # Never evicted (broker, auth state) / evictable (tagged cache): docs/data-model.md.
            "REDIS_URL": cache.state.redis_url(),
            "REDIS_CACHE_URL": cache.cache.redis_url(),
            "S3_BUCKET": uploads.bucket.bucket_name,
            "S3_REGION": config.region,
            "S3_KMS_KEY_ID": uploads.key.key_arn,
            "COGNITO_REGION": config.region,
            "COGNITO_USER_POOL_ID": auth.user_pool.user_pool_id,
            "COGNITO_APP_CLIENT_IDS": ",".join(auth.client_ids),
            "METRICS_NAMESPACE": config.metrics_namespace,
            "CLOUDWATCH_METRICS_ENABLED": "true",
            "SENTRY_ENVIRONMENT": config.name,
            "CORS_ORIGINS": ",".join(config.cors_origins),
            "CELERY_BEAT_SCHEDULE_FILE": BEAT_SCHEDULE_FILE,
            "CELERY_TASK_TIME_LIMIT_SECONDS": str(CELERY_TASK_TIME_LIMIT_SECONDS),
            "CELERY_TASK_SOFT_TIME_LIMIT_SECONDS": str(CELERY_TASK_SOFT_TIME_LIMIT_SECONDS),
            # The tasks' peer is the ALB, in the VPC. CloudFront appends the viewer's address
            # to X-Forwarded-For, the ALB the (public, origin-facing) address CloudFront came
            # from: the client is the 2nd entry from the right; left of it is client input.
            "FORWARDED_ALLOW_IPS": config.network.cidr,
            "FORWARDED_TRUSTED_HOPS": "2",
            **task_environment(config),
        }
        # The service's own least-privilege user (readWrite on its database), never the
        # cluster's admin; provisioned before any service task starts (infra/db_users.py).
        self.db_users = DbUsers(
            self,
            "DbUsers",
            config=config,
            cluster=self.cluster,
            image=self.image,
            documentdb=documentdb,
            environment={
                key: self.environment[key]
                for key in ("APP_ENV", "MONGODB_URL", "MONGODB_DB", "MONGODB_TLS_CA_FILE")
            },
            scratch_path=SCRATCH_PATH,
        )
        app_user = documentdb.app_secret
        self.secrets = {
            "MONGODB_USERNAME": ecs.Secret.from_secrets_manager(app_user, "username"),
            "MONGODB_PASSWORD": ecs.Secret.from_secrets_manager(app_user, "password"),
            "REDIS_PASSWORD": ecs.Secret.from_secrets_manager(cache.state.auth_token),
            "REDIS_CACHE_PASSWORD": ecs.Secret.from_secrets_manager(cache.cache.auth_token),
            "JWT_SECRET_KEY": ecs.Secret.from_secrets_manager(app_secrets.jwt_secret_key),
            "SENTRY_DSN": ecs.Secret.from_secrets_manager(app_secrets.sentry_dsn),
        }

        # --- api, behind an internal ALB -------------------------------------------------
        self.alb_security_group = ec2.SecurityGroup(
            self,
            "AlbSg",
            vpc=vpc,
            description="Internal ALB: HTTP only from CloudFront (VPC origin) to the api",
            allow_all_outbound=False,
        )
        self.alb_security_group.add_ingress_rule(
            ec2.Peer.prefix_list(config.edge.cloudfront_prefix_list_id),
            ec2.Port.tcp(80),
            "CloudFront origin-facing prefix list (VPC origin)",
        )
        self.alb = elbv2.ApplicationLoadBalancer(
            self,
            "Alb",
            vpc=vpc,
            internet_facing=False,
            vpc_subnets=network.app_subnets,
            security_group=self.alb_security_group,
            drop_invalid_header_fields=True,
            deletion_protection=config.production,
            idle_timeout=Duration.seconds(ALB_IDLE_TIMEOUT_SECONDS),
        )
        self.alb.log_access_logs(access_logs, prefix=f"alb/{config.prefix}")
        # The ALB appends the address CloudFront connected from (the default, made explicit:
        # the tasks' FORWARDED_TRUSTED_HOPS counts on it).
        self.alb.set_attribute("routing.http.xff_header_processing.mode", "append")
        self.listener = self.alb.add_listener(
            "Http", port=80, protocol=elbv2.ApplicationProtocol.HTTP, open=False
        )

        self.api = self._service(
            "api",
            size=config.service.api,
            command=["python", "service/main.py", "--env", config.name],
            port=API_PORT,
            health_check=ecs.HealthCheck(
                command=[
                    "CMD",
                    "python",
                    "-c",
                    "import urllib.request; urllib.request.urlopen("
                    f"'http://127.0.0.1:{API_PORT}{HEALTH_PATH}', timeout=3)",
                ],
                interval=Duration.seconds(30),
                timeout=Duration.seconds(5),
                retries=3,
                start_period=Duration.seconds(30),
            ),
            # No DesiredCount: autoscaling owns the count (below).
            desired=None,
            min_healthy_percent=100,
            max_healthy_percent=200,
        )
        self.target_group = self.listener.add_targets(
            "Api",
            port=API_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            targets=[self.api.service],
            deregistration_delay=Duration.seconds(30),
            health_check=elbv2.HealthCheck(
                path=HEALTH_PATH,
                healthy_http_codes="200",
                interval=Duration.seconds(15),
                timeout=Duration.seconds(5),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
            ),
        )
        api_scaling = self.api.service.auto_scale_task_count(
            min_capacity=config.service.api.min_tasks, max_capacity=config.service.api.max_tasks
        )
        api_scaling.scale_on_cpu_utilization(
            "Cpu",
            target_utilization_percent=config.service.api_cpu_target_percent,
            scale_in_cooldown=Duration.seconds(300),
            scale_out_cooldown=Duration.seconds(60),
        )
        api_scaling.scale_on_request_count(
            "Requests",
            requests_per_target=config.service.api_requests_per_target,
            target_group=self.target_group,
            scale_in_cooldown=Duration.seconds(300),
            scale_out_cooldown=Duration.seconds(60),
        )

        # --- worker, scaled on the Celery backlog ------------------------------------------
        self.worker = self._service(
            "worker",
            size=config.service.worker,
            command=[
                "celery",
                "-A",
                CELERY_APP,
                "worker",
                "--loglevel=INFO",
            ],
            desired=None,
            min_healthy_percent=100,
            max_healthy_percent=200,
            stop_timeout=Duration.seconds(WORKER_STOP_TIMEOUT_SECONDS),
            # The worker answers a broadcast ping through the broker only while its consumer
            # loop runs (a stuck or disconnected worker fails it; ECS replaces the task).
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
            config.metrics_namespace, self.cluster.cluster_name, self.worker.service.service_name
        )
        worker_scaling = self.worker.service.auto_scale_task_count(
            min_capacity=config.service.worker.min_tasks,
            max_capacity=config.service.worker.max_tasks,
        )
        worker_scaling.scale_on_metric(
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
        backlog_scaling = worker_scaling.node.find_child("Target").node.find_child("Backlog")
        assert isinstance(backlog_scaling, appscaling.StepScalingPolicy)
        lower_alarm = backlog_scaling.lower_alarm
        assert lower_alarm is not None
        cfn_lower = lower_alarm.node.default_child
        assert isinstance(cfn_lower, cloudwatch.CfnAlarm)
        cfn_lower.treat_missing_data = "notBreaching"

        # --- beat, exactly one -------------------------------------------------------------
        # min 0 % / max 100 % healthy: a deployment stops the old beat before starting the
        # new one, so two schedulers never run at once (at the cost of a short gap).
        self.beat = self._service(
            "beat",
            size=ScaledService(
                cpu=config.service.beat.cpu,
                memory_mib=config.service.beat.memory_mib,
                min_tasks=1,
                max_tasks=1,
            ),
            command=["celery", "-A", CELERY_APP, "beat", "--loglevel=INFO"],
            desired=1,
            min_healthy_percent=0,
            max_healthy_percent=100,
            # Beat touches <schedule>.alive every tick (at most every lock TTL / 3 = 20 s).
            health_check=ecs.HealthCheck(
                command=["CMD", "python", "-c", BEAT_ALIVE],
                interval=Duration.seconds(30),
                timeout=Duration.seconds(5),
                retries=3,
                start_period=Duration.seconds(60),
            ),
        )
        self.beat.service.auto_scale_task_count(min_capacity=1, max_capacity=1)

        # No task starts before its database user exists; every rotation redeploys them.
        for app in self.services:
            app.service.node.add_dependency(self.db_users.provisioned)
        self.db_users.redeploy_on_rotation({app.name: app.service for app in self.services})

        # --- data access: only the app tasks reach DocumentDB and the cache -------------
        for app in self.services:
            # allow_to() puts the ingress rule into this (stateless) stack, so the data
            # stack never depends on the service stack.
            app.security_group.connections.allow_to(
                documentdb.cluster, ec2.Port.tcp(documentdb.port), f"{app.name} -> DocumentDB"
            )
            app.security_group.connections.allow_to(
                ec2.Connections(security_groups=[cache.security_group]),
                ec2.Port.tcp(cache.port),
                f"{app.name} -> cache",
            )

        acknowledge(
            self,
            "AwsSolutions-ECS2",
            "Only non-secret settings (endpoints, resource ids, flags) are plain environment "
            "values, per the service's settings contract; every credential reaches the "
            "containers through ECS secrets from Secrets Manager.",
        )
        acknowledge(
            self.task_role,
            "AwsSolutions-IAM5[Resource::*]",
            "cloudwatch:PutMetricData supports no resource-level scoping; the statement is "
            "restricted with a cloudwatch:namespace condition to the environment's namespace.",
        )

    def set_web_app_url(self, url: str) -> None:
        """``WEB_APP_URL`` of every task: the links in the mails (verify, reset) open the web
        app there. Known only once the distribution exists, hence set after it."""
        for app in self.services:
            app.container.add_environment("WEB_APP_URL", url)

    @property
    def services(self) -> tuple[AppService, AppService, AppService]:
        return (self.api, self.worker, self.beat)

    def _service(
        self,
        name: str,
        *,
        size: ScaledService,
        command: list[str],
        desired: int | None,
        min_healthy_percent: int,
        max_healthy_percent: int,
        port: int | None = None,
        health_check: ecs.HealthCheck | None = None,
        stop_timeout: Duration | None = None,
    ) -> AppService:
        scope = Construct(self, name.capitalize())
        log_group = logs.LogGroup(
            scope,
            "Logs",
            log_group_name=f"/biwoco/{self.config.name}/{name}",
            retention=retention_days(self.config.observability.log_retention_days),
            removal_policy=self.config.removal_policy,
        )
        task_definition = ecs.FargateTaskDefinition(
            scope,
            "Task",
            family=f"{self.config.prefix}-{name}",
            cpu=size.cpu,
            memory_limit_mib=size.memory_mib,
            task_role=self.task_role,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.X86_64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        # The root filesystem is read-only; /tmp (beat's schedule file, temp files) is a
        # task-local scratch volume, writable because the image declares it (VOLUME /tmp).
        task_definition.add_volume(name="tmp")
        container = task_definition.add_container(
            name,
            container_name=name,
            image=self.image,
            command=command,
            environment=dict(self.environment),
            secrets=dict(self.secrets),
            logging=ecs.LogDrivers.aws_logs(stream_prefix=name, log_group=log_group),
            readonly_root_filesystem=True,
            health_check=health_check,
            stop_timeout=stop_timeout,
            port_mappings=[ecs.PortMapping(container_port=port)] if port else None,
            essential=True,
        )
        container.add_mount_points(
            ecs.MountPoint(container_path=SCRATCH_PATH, source_volume="tmp", read_only=False)
        )
        execution_role = task_definition.execution_role
        assert execution_role is not None
        acknowledge(
            execution_role,
            "AwsSolutions-IAM5[Resource::*]",
            "The ECS execution role needs ecr:GetAuthorizationToken, which AWS only grants on "
            "'*'; its image pull, log and secret permissions are scoped to their resources.",
        )
        security_group = ec2.SecurityGroup(
            scope,
            "Sg",
            vpc=self.cluster.vpc,
            description=f"{name} tasks",
            allow_all_outbound=True,
        )
        service = ecs.FargateService(
            scope,
            "Service",
            service_name=name,
            cluster=self.cluster,
            task_definition=task_definition,
            desired_count=desired,
            min_healthy_percent=min_healthy_percent,
            max_healthy_percent=max_healthy_percent,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            security_groups=[security_group],
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            assign_public_ip=False,
            platform_version=ecs.FargatePlatformVersion.LATEST,
            propagate_tags=ecs.PropagatedTagSource.SERVICE,
            enable_execute_command=False,
            health_check_grace_period=Duration.seconds(60) if port else None,
        )
        return AppService(
            name=name,
            service=service,
            task_definition=task_definition,
            container=container,
            log_group=log_group,
            security_group=security_group,
        )
