"""Data: the Amazon DocumentDB cluster (the service's MongoDB)."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_docdb as docdb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import EnvConfig
from infra.nag import acknowledge
from infra.network import Network
from infra.retention import retention_days

DB_NAME = "biwoco"
MASTER_USERNAME = "biwoco_admin"
APP_USERNAME = "biwoco_app"
# Characters that break a mongodb:// URL or a shell, never in a generated password.
URL_UNSAFE_CHARACTERS = "\"@/:?#[]%&=+\\'`$ "
# The two rotations never share a window: the master secret on the 1st of the month, the
# application user's (which logs in with the master secret) on the 15th, each in a 2-hour
# window clear of the backup (17:00-18:00) and maintenance (sun 18:30-19:30) windows, UTC.
MASTER_ROTATION_SCHEDULE = "cron(0 2 1 * ? *)"
APP_ROTATION_SCHEDULE = "cron(0 2 15 * ? *)"
ROTATION_WINDOW = "2h"


class DocumentDb(Construct):
    """DocumentDB 5.0: TLS required, KMS-encrypted, audit logs exported, rotated secret."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvConfig,
        network: Network,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        db = config.documentdb
        removal = config.removal_policy
        self.port = db.port

        self.parameter_group = docdb.ClusterParameterGroup(
            self,
            "Parameters",
            family="docdb5.0",
            description=f"{config.prefix}: TLS required, audit and profiler logs on",
            parameters={
                "tls": "enabled",
                "audit_logs": "enabled",
                "profiler": "enabled",
                "profiler_threshold_ms": "200",
                "ttl_monitor": "enabled",
            },
        )
        self.security_group = ec2.SecurityGroup(
            self,
            "Sg",
            vpc=network.vpc,
            description="DocumentDB: ingress only from the app tasks on the DocumentDB port",
            allow_all_outbound=False,
        )
        cluster_name = f"{config.prefix}-docdb"
        # The exported log groups are created here with their retention (instead of the
        # cloud_watch_logs_retention prop, which adds a log-retention Lambda).
        self.log_groups = [
            logs.LogGroup(
                self,
                f"{kind.capitalize()}Logs",
                log_group_name=f"/aws/docdb/{cluster_name}/{kind}",
                retention=retention_days(config.observability.log_retention_days),
                removal_policy=removal,
            )
            for kind in ("audit", "profiler")
        ]
        self.cluster = docdb.DatabaseCluster(
            self,
            "Cluster",
            db_cluster_name=cluster_name,
            engine_version=db.engine_version,
            master_user=docdb.Login(
                username=MASTER_USERNAME,
                secret_name=f"{config.prefix}/documentdb/master",
                exclude_characters=URL_UNSAFE_CHARACTERS,
            ),
            instance_type=ec2.InstanceType(db.instance_type),
            instances=db.instances,
            vpc=network.vpc,
            vpc_subnets=network.data_subnets,
            security_group=self.security_group,
            port=db.port,
            parameter_group=self.parameter_group,
            storage_encrypted=True,
            kms_key=key,
            backup=docdb.BackupProps(
                retention=Duration.days(db.backup_retention_days),
                preferred_window="17:00-18:00",
            ),
            preferred_maintenance_window="sun:18:30-sun:19:30",
            export_audit_logs_to_cloud_watch=True,
            export_profiler_logs_to_cloud_watch=True,
            deletion_protection=config.production,
            removal_policy=removal,
            instance_removal_policy=removal,
            security_group_removal_policy=removal,
            copy_tags_to_snapshot=True,
        )
        for group in self.log_groups:
            self.cluster.node.add_dependency(group)
        self.secret = self.cluster.secret
        if self.secret is None:  # pragma: no cover - a Login always makes a secret
            raise RuntimeError("DocumentDB cluster has no secret")
        # The service's own user (readWrite on its database only; created by the service
        # stack's provisioning task, infra/db_users.py), never the cluster's admin.
        self.app_secret = docdb.DatabaseSecret(
            self,
            "AppUserSecret",
            username=APP_USERNAME,
            secret_name=f"{config.prefix}/documentdb/app",
            master_secret=self.secret,
            exclude_characters=URL_UNSAFE_CHARACTERS,
        ).attach(self.cluster)
        # Alternating users (multi-user rotation): each rotation sets a new password on the
        # user that is NOT current (APP_USERNAME / APP_USERNAME_clone, the clone made with the
        # same roles on the first rotation) and then makes it current, so the credentials a
        # running task holds stay valid until the rotation after next; the service stack
        # redeploys the services on every successful rotation (infra/db_users.py), so no task
        # is ever older than one rotation. Not rotated at once on creation: the user exists
        # only once the service stack has provisioned it; the first rotation comes after
        # `rotation_days`, and after every instance exists (dependencies below).
        self.rotation = secretsmanager.SecretRotation(
            self,
            "AppUserRotation",
            application=secretsmanager.SecretRotationApplication.MONGODB_ROTATION_MULTI_USER,
            secret=self.app_secret,
            master_secret=self.secret,
            target=self.cluster,
            vpc=network.vpc,
            vpc_subnets=network.data_subnets,
            automatically_after=Duration.days(db.rotation_days),
            rotate_immediately_on_update=False,
            exclude_characters=URL_UNSAFE_CHARACTERS,
        )
        # The master password rotates too (single user: only operators and the provisioning
        # task use it, each reading it when they start).
        self.master_rotation = self.cluster.add_rotation_single_user(
            Duration.days(db.rotation_days)
        )
        instances = [
            child
            for child in self.cluster.node.find_all()
            if isinstance(child, docdb.CfnDBInstance)
        ]
        assert len(instances) == db.instances
        # (The schedule is what rotates: RotateSecret runs when it is created.)
        schedules = [
            child
            for child in self.node.find_all()
            if isinstance(child, secretsmanager.CfnRotationSchedule)
        ]
        assert len(schedules) == 2
        for rotation in (self.rotation, self.master_rotation, *schedules):
            for instance in instances:
                rotation.node.add_dependency(instance)

        for schedule in schedules:
            is_app = schedule.node.path.startswith(self.app_secret.node.path + "/")
            schedule.add_property_override(
                "RotationRules",
                {
                    "ScheduleExpression": APP_ROTATION_SCHEDULE
                    if is_app
                    else MASTER_ROTATION_SCHEDULE,
                    "Duration": ROTATION_WINDOW,
                },
            )
            # A schedule change on a deploy is not a reason to rotate now.
            schedule.add_property_override("RotateImmediatelyOnUpdate", False)
        self._retain_with_the_cluster(removal)

        cfn_cluster = self.cluster.node.default_child
        assert cfn_cluster is not None
        for event in ("authenticate", "createIndex", "dropCollection"):
            acknowledge(
                cfn_cluster,
                f"AwsSolutions-DOC5[LogExport::{event}]",
                "DocumentDB accepts only 'audit' and 'profiler' as CloudWatch log exports; "
                f"both are exported, and the audit log (audit_logs=enabled) records {event}.",
            )
        acknowledge(
            cfn_cluster,
            "AwsSolutions-DOC3",
            "The rule cannot resolve the master username because it is a Secrets Manager "
            "dynamic reference: the credentials are in Secrets Manager by construction.",
        )

    def _retain_with_the_cluster(self, removal: RemovalPolicy) -> None:
        """What the (retained, in production) cluster still uses gets its policy too: its
        credentials, security group (``security_group_removal_policy`` only acts on a group
        the cluster creates itself), subnet group and parameter group. Otherwise deleting the
        stack deletes the secrets, then fails on what the retained cluster still uses."""
        secrets = [c for c in self.node.find_all() if isinstance(c, secretsmanager.CfnSecret)]
        assert len(secrets) == 2  # master and application user
        parameters = self.parameter_group.node.default_child
        assert isinstance(parameters, docdb.CfnDBClusterParameterGroup)
        for resource in (*secrets, parameters):
            resource.apply_removal_policy(removal)
        self.security_group.apply_removal_policy(removal)
        subnet_groups = [
            child
            for child in self.cluster.node.find_all()
            if isinstance(child, docdb.CfnDBSubnetGroup)
        ]
        assert len(subnet_groups) == 1
        subnet_groups[0].apply_removal_policy(removal)

    @staticmethod
    def rotation_events(
        event_names: list[str], secrets: list[secretsmanager.ISecret]
    ) -> events.EventPattern:
        """Secrets Manager's rotation outcome events (via EventBridge) for `secrets`."""
        return events.EventPattern(
            source=["aws.secretsmanager"],
            detail_type=["AWS Service Event via CloudTrail"],
            detail={
                "eventName": event_names,
                "additionalEventData": {"SecretId": [s.secret_arn for s in secrets]},
            },
        )

    @property
    def rotated_secrets(self) -> list[secretsmanager.ISecret]:
        assert self.secret is not None
        return [self.app_secret, self.secret]

    @property
    def hostname(self) -> str:
        return self.cluster.cluster_endpoint.hostname

    @property
    def port_as_string(self) -> str:
        return self.cluster.cluster_endpoint.port_as_string()

    def mongodb_url(self) -> str:
        """The settings contract's ``MONGODB_URL`` (credentials come separately, as secrets)."""
        return (
            f"mongodb://{self.hostname}:{self.port_as_string}/"
            "?tls=true&replicaSet=rs0&readPreference=secondaryPreferred&retryWrites=false"
        )
