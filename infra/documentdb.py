"""Data: the Amazon DocumentDB cluster (the service's MongoDB)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_docdb as docdb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import EnvConfig
from infra.nag import acknowledge
from infra.network import Network
from infra.retention import retention_days

DB_NAME = "biwoco"
MASTER_USERNAME = "biwoco_admin"


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
                # Characters that break a mongodb:// URL or a shell are excluded.
                exclude_characters="\"@/:?#[]%&=+\\'`$ ",
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
        # Single-user rotation (the hosted rotation Lambda runs in the app subnets and
        # reaches the cluster through its security group and Secrets Manager through
        # the interface endpoint).
        self.rotation = self.cluster.add_rotation_single_user(Duration.days(db.rotation_days))

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
