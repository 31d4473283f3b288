"""Service: the ECS cluster, the image, the ALB and the api / worker / beat services
(infra/api_service.py, infra/worker_service.py, infra/beat_service.py) of the one image."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.api_service import API_PORT, HEALTH_PATH, ApiService
from infra.app_secrets import AppSecrets
from infra.app_service import CELERY_APP, SCRATCH_PATH, AppService, TaskBase
from infra.auth import Auth
from infra.beat_service import BEAT_ALIVE, BeatService
from infra.cache import Cache
from infra.config import REPO_ROOT, EnvConfig
from infra.db_users import DbUsers
from infra.documentdb import DB_NAME, DocumentDb
from infra.mail import grant_send, task_environment
from infra.migrations import Migrations
from infra.nag import acknowledge
from infra.network import Network
from infra.request_metrics import RequestMetrics
from infra.telemetry import Telemetry
from infra.uploads import Uploads
from infra.worker_service import (
    CELERY_TASK_SOFT_TIME_LIMIT_SECONDS,
    CELERY_TASK_TIME_LIMIT_SECONDS,
    WORKER_STOP_TIMEOUT_SECONDS,
    WorkerService,
)

__all__ = [
    "ALB_IDLE_TIMEOUT_SECONDS",
    "API_PORT",
    "BEAT_ALIVE",
    "CELERY_APP",
    "HEALTH_PATH",
    "IMAGE_EXCLUDES",
    "RDS_CA_BUNDLE",
    "WORKER_STOP_TIMEOUT_SECONDS",
    "Service",
]

# The api keeps idle connections longer (Settings.http_keep_alive_seconds), so the ALB never
# reuses one the server is closing.
ALB_IDLE_TIMEOUT_SECONDS = 60
RDS_CA_BUNDLE = "/app/certs/global-bundle.pem"
BEAT_SCHEDULE_FILE = f"{SCRATCH_PATH}/celerybeat-schedule"

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


class Service(Construct):
    """ECS cluster (Container Insights) running ONE image built from the repository's
    ``Dockerfile`` as three services, each its own construct:

    * ``api`` (:class:`ApiService`): behind an internal ALB (reached only through
      CloudFront), autoscaled on CPU and requests per target.
    * ``worker`` (:class:`WorkerService`): autoscaled on the Celery backlog per task.
    * ``beat`` (:class:`BeatService`): exactly one task.

    Here: what they share (cluster, image, task role, environment, secrets), the ALB, the
    database user they log in as, and their access to DocumentDB and the cache.
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
        # The collector sidecars' EMF log group and X-Ray rights (infra/telemetry.py).
        self.telemetry = Telemetry(self, "Telemetry", config=config, task_role=self.task_role)

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

        base = TaskBase(
            config=config,
            cluster=self.cluster,
            image=self.image,
            task_role=self.task_role,
            environment=self.environment,
            secrets=self.secrets,
            telemetry=self.telemetry,
        )
        self.api = ApiService(self, "Api", base=base, listener=self.listener)
        self.target_group = self.api.target_group
        # The API's request metric, from its access lines (infra/request_metrics.py).
        self.request_metrics = RequestMetrics(
            self,
            "RequestMetrics",
            log_group=self.api.log_group,
            namespace=config.telemetry_namespace,
        )
        self.worker = WorkerService(self, "Worker", base=base)
        self.backlog = self.worker.backlog
        self.backlog_per_task = self.worker.backlog_per_task
        self.beat = BeatService(self, "Beat", base=base)

        # No task starts before its database user exists and the release's migrations are
        # applied, and the converging ones run again once all three rolled
        # (infra/migrations.py); every rotation redeploys them.
        self.migrations = Migrations(
            self,
            "Migrations",
            config=config,
            cluster=self.cluster,
            image=self.image,
            documentdb=documentdb,
            db_users=self.db_users,
            environment=dict(self.environment),
            secrets=dict(self.secrets),
            scratch_path=SCRATCH_PATH,
            services=[app.service for app in self.services],
        )
        for app in self.services:
            app.service.node.add_dependency(self.db_users.provisioned)
            app.service.node.add_dependency(self.migrations.applied)
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
