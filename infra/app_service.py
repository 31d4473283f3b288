"""One ECS service of the one image: its log group, task definition, container, security group
and Fargate service, the shape the api, worker and beat share (infra/api_service.py,
infra/worker_service.py, infra/beat_service.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import EnvConfig, ScaledService
from infra.nag import acknowledge
from infra.retention import retention_days
from infra.telemetry import Telemetry

# The worker bootstrap: the Celery app built from the module list. The worker consumes every
# queue it declares (core's and each module's), so no queue list is repeated here.
CELERY_APP = "service.app.worker"
# The one writable path under the read-only root filesystem: a task volume at a path the
# image declares with VOLUME (so Fargate gives it the image's mode 1777, not root 0755).
SCRATCH_PATH = "/tmp"  # noqa: S108 - a task-local scratch volume, see the Dockerfile


@dataclass(frozen=True)
class TaskBase:
    """What every service's task shares: the cluster, the image, the task role, the plain
    environment and the secrets, and the telemetry its collector sidecar sends to."""

    config: EnvConfig
    cluster: ecs.Cluster
    image: ecs.ContainerImage
    task_role: iam.IRole
    environment: Mapping[str, str]
    secrets: Mapping[str, ecs.Secret]
    telemetry: Telemetry


class AppService(Construct):
    """``AppService(scope, construct_id, *, base, name, size, command, desired, ...)``.

    ``desired`` is ``None`` for an autoscaled service: the template then carries no
    ``DesiredCount`` and a deploy never resets what autoscaling decided.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        base: TaskBase,
        name: str,
        size: ScaledService,
        command: list[str],
        desired: int | None,
        min_healthy_percent: int,
        max_healthy_percent: int,
        port: int | None = None,
        health_check: ecs.HealthCheck | None = None,
        stop_timeout: Duration | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        config = base.config
        self.name = name
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/biwoco/{config.name}/{name}",
            retention=retention_days(config.observability.log_retention_days),
            removal_policy=config.removal_policy,
        )
        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "Task",
            family=f"{config.prefix}-{name}",
            cpu=size.cpu,
            memory_limit_mib=size.memory_mib,
            task_role=base.task_role,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.X86_64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        # The root filesystem is read-only; /tmp (beat's schedule file, temp files) is a
        # task-local scratch volume, writable because the image declares it (VOLUME /tmp).
        self.task_definition.add_volume(name="tmp")
        self.container = self.task_definition.add_container(
            name,
            container_name=name,
            image=base.image,
            command=command,
            environment=dict(base.environment),
            secrets=dict(base.secrets),
            logging=ecs.LogDrivers.aws_logs(stream_prefix=name, log_group=self.log_group),
            readonly_root_filesystem=True,
            health_check=health_check,
            stop_timeout=stop_timeout,
            port_mappings=[ecs.PortMapping(container_port=port)] if port else None,
            essential=True,
        )
        self.container.add_mount_points(
            ecs.MountPoint(container_path=SCRATCH_PATH, source_volume="tmp", read_only=False)
        )
        self.collector = base.telemetry.add_collector(
            self.task_definition, self.container, self.log_group
        )
        execution_role = self.task_definition.execution_role
        assert execution_role is not None
        acknowledge(
            execution_role,
            "AwsSolutions-IAM5[Resource::*]",
            "The ECS execution role needs ecr:GetAuthorizationToken, which AWS only grants on "
            "'*'; its image pull, log and secret permissions are scoped to their resources.",
        )
        self.security_group = ec2.SecurityGroup(
            self,
            "Sg",
            vpc=base.cluster.vpc,
            description=f"{name} tasks",
            allow_all_outbound=True,
        )
        self.service = ecs.FargateService(
            self,
            "Service",
            service_name=name,
            cluster=base.cluster,
            task_definition=self.task_definition,
            desired_count=desired,
            min_healthy_percent=min_healthy_percent,
            max_healthy_percent=max_healthy_percent,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            security_groups=[self.security_group],
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            assign_public_ip=False,
            platform_version=ecs.FargatePlatformVersion.LATEST,
            propagate_tags=ecs.PropagatedTagSource.SERVICE,
            enable_execute_command=False,
            health_check_grace_period=Duration.seconds(60) if port else None,
        )
