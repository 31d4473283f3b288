"""Service: the migrations, applied by a one-off ECS task before the services roll.

``migrate``: a task of the service image (``python service/main.py migrate``) with the
service's settings and its own database user (``readWrite`` creates and drops indexes). The
database-user task's custom-resource function (infra/db_users.py) runs it on every deploy
that changes it (a new image is a new task definition revision) and waits for its exit code;
the services depend on it, so no task of a release starts before that release's migrations
are applied, and a failed migration fails the deploy (the runner's ledger and the task's log,
``/biwoco/<env>/migrate``, say which step). The runner's lease makes a second run at the same
time (a retried deploy) wait instead of applying twice.
"""

from __future__ import annotations

from aws_cdk import CustomResource
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import EnvConfig
from infra.db_users import DbUsers
from infra.documentdb import DocumentDb
from infra.nag import acknowledge
from infra.retention import retention_days

MIGRATE_COMMAND = ["python", "service/main.py", "migrate"]


class Migrations(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvConfig,
        cluster: ecs.ICluster,
        image: ecs.ContainerImage,
        documentdb: DocumentDb,
        db_users: DbUsers,
        environment: dict[str, str],
        secrets: dict[str, ecs.Secret],
        scratch_path: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/biwoco/{config.name}/migrate",
            retention=retention_days(config.observability.log_retention_days),
            removal_policy=config.removal_policy,
        )
        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "Task",
            family=f"{config.prefix}-migrate",
            cpu=256,
            memory_limit_mib=512,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.X86_64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        self.task_definition.add_volume(name="tmp")
        container = self.task_definition.add_container(
            "migrate",
            container_name="migrate",
            image=image,
            command=MIGRATE_COMMAND,
            environment=environment,
            # The service's settings, loaded whole (`load_settings` checks the deployed
            # profile's secrets are there); it connects to DocumentDB only.
            secrets=secrets,
            logging=ecs.LogDrivers.aws_logs(stream_prefix="migrate", log_group=self.log_group),
            readonly_root_filesystem=True,
            essential=True,
        )
        container.add_mount_points(
            ecs.MountPoint(container_path=scratch_path, source_volume="tmp", read_only=False)
        )
        self.security_group = ec2.SecurityGroup(
            self,
            "Sg",
            vpc=cluster.vpc,
            description="migrate task",
            allow_all_outbound=True,
        )
        self.security_group.connections.allow_to(
            documentdb.cluster, ec2.Port.tcp(documentdb.port), "migrate -> DocumentDB"
        )

        # The database-user task's function runs this task too (the same RunTask-and-wait).
        run_role = db_users.run_function.role
        assert run_role is not None
        run_role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:RunTask"],
                resources=[self.task_definition.task_definition_arn],
                conditions={"ArnEquals": {"ecs:cluster": cluster.cluster_arn}},
            )
        )
        passed = [self.task_definition.obtain_execution_role()]
        if self.task_definition.task_role is not None:
            passed.append(self.task_definition.task_role)
        run_role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"], resources=[role.role_arn for role in passed]
            )
        )
        self.applied = CustomResource(
            self,
            "Applied",
            service_token=db_users.run_function.function_arn,
            resource_type="Custom::Migrations",
            properties={
                "Cluster": cluster.cluster_arn,
                # A new revision (a new image) runs the migrations again.
                "TaskDefinition": self.task_definition.task_definition_arn,
                "Subnets": cluster.vpc.select_subnets(
                    subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
                ).subnet_ids,
                "SecurityGroup": self.security_group.security_group_id,
            },
        )
        # Its user must exist (the db-users task), and its way into DocumentDB, before it runs.
        self.applied.node.add_dependency(db_users.provisioned)
        self.applied.node.add_dependency(self.security_group)
        self.applied.node.add_dependency(run_role)

        execution_role = self.task_definition.execution_role
        assert execution_role is not None
        acknowledge(
            execution_role,
            "AwsSolutions-IAM5[Resource::*]",
            "The ECS execution role needs ecr:GetAuthorizationToken, which AWS only grants on "
            "'*'; its image pull, log and secret permissions are scoped to their resources.",
        )
        acknowledge(
            self.task_definition,
            "AwsSolutions-ECS2",
            "Only non-secret settings (endpoints, resource ids, flags) are plain environment "
            "values, per the service's settings contract; every credential reaches the "
            "containers through ECS secrets from Secrets Manager.",
        )
