"""A one-off ECS task of the service image that reaches DocumentDB, run at deploy.

What the database-user task (infra/db_users.py) and the migrate task (infra/migrations.py)
share: the log group, the task definition with its one read-only container and scratch
volume, the security group into DocumentDB, and the grant that lets the run-and-wait
function start it. Built in the caller's scope (ids `Logs`, `Task`, `Sg`), so the synthesized
resources keep their logical ids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import CustomResource
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import EnvConfig
from infra.documentdb import DocumentDb
from infra.nag import acknowledge
from infra.retention import retention_days


@dataclass(frozen=True)
class OneOffTask:
    log_group: logs.LogGroup
    task_definition: ecs.FargateTaskDefinition
    security_group: ec2.SecurityGroup

    def run_at_deploy(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.IFunction,
        resource_type: str,
        cluster: ecs.ICluster,
        command: Sequence[str] | None = None,
    ) -> CustomResource:
        """A custom resource whose `function` runs this task and waits for its exit code, on
        every deploy that changes it (a new revision: new image, new secret). `command`: run
        the task with this command instead of its own (RunTask's container override), so a
        second run of one task needs no second definition, role or security group."""
        properties: dict[str, object] = {
            "Cluster": cluster.cluster_arn,
            "TaskDefinition": self.task_definition.task_definition_arn,
            "Subnets": cluster.vpc.select_subnets(
                subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
            ).subnet_ids,
            "SecurityGroup": self.security_group.security_group_id,
        }
        if command is not None:
            container = self.task_definition.default_container
            assert container is not None
            properties["Container"] = container.container_name
            properties["Command"] = list(command)
        return CustomResource(
            scope,
            construct_id,
            service_token=function.function_arn,
            resource_type=resource_type,
            properties=properties,
        )

    def grant_run(self, role: iam.IRole, cluster: ecs.ICluster) -> None:
        """Let `role` start this task (in `cluster` only) and pass it its roles."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:RunTask"],
                resources=[self.task_definition.task_definition_arn],
                conditions={"ArnEquals": {"ecs:cluster": cluster.cluster_arn}},
            )
        )
        passed = [self.task_definition.obtain_execution_role()]
        if self.task_definition.task_role is not None:
            passed.append(self.task_definition.task_role)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"], resources=[role.role_arn for role in passed]
            )
        )


def one_off_task(
    scope: Construct,
    *,
    name: str,
    config: EnvConfig,
    cluster: ecs.ICluster,
    image: ecs.ContainerImage,
    documentdb: DocumentDb,
    purpose: str,
    command: Sequence[str],
    environment: Mapping[str, str],
    secrets: Mapping[str, ecs.Secret],
    scratch_path: str,
) -> OneOffTask:
    log_group = logs.LogGroup(
        scope,
        "Logs",
        log_group_name=f"/biwoco/{config.name}/{name}",
        retention=retention_days(config.observability.log_retention_days),
        removal_policy=config.removal_policy,
    )
    task_definition = ecs.FargateTaskDefinition(
        scope,
        "Task",
        family=f"{config.prefix}-{name}",
        cpu=256,
        memory_limit_mib=512,
        runtime_platform=ecs.RuntimePlatform(
            cpu_architecture=ecs.CpuArchitecture.X86_64,
            operating_system_family=ecs.OperatingSystemFamily.LINUX,
        ),
    )
    task_definition.add_volume(name="tmp")
    container = task_definition.add_container(
        name,
        container_name=name,
        image=image,
        command=list(command),
        environment=dict(environment),
        secrets=dict(secrets),
        logging=ecs.LogDrivers.aws_logs(stream_prefix=name, log_group=log_group),
        readonly_root_filesystem=True,
        essential=True,
    )
    container.add_mount_points(
        ecs.MountPoint(container_path=scratch_path, source_volume="tmp", read_only=False)
    )
    security_group = ec2.SecurityGroup(
        scope,
        "Sg",
        vpc=cluster.vpc,
        description=purpose,
        allow_all_outbound=True,
    )
    security_group.connections.allow_to(
        documentdb.cluster, ec2.Port.tcp(documentdb.port), f"{name} -> DocumentDB"
    )
    execution_role = task_definition.execution_role
    assert execution_role is not None
    acknowledge(
        execution_role,
        "AwsSolutions-IAM5[Resource::*]",
        "The ECS execution role needs ecr:GetAuthorizationToken, which AWS only grants on "
        "'*'; its image pull, log and secret permissions are scoped to their resources.",
    )
    acknowledge(
        task_definition,
        "AwsSolutions-ECS2",
        "Only non-secret settings (endpoints, resource ids, flags) are plain environment "
        "values, per the service's settings contract; every credential reaches the "
        "containers through ECS secrets from Secrets Manager.",
    )
    return OneOffTask(log_group, task_definition, security_group)
