"""Data: the ElastiCache replication group (Valkey / Redis 7) for cache, broker, results."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import EnvConfig
from infra.nag import acknowledge
from infra.network import Network
from infra.retention import retention_days


class Cache(Construct):
    """A replication group (cluster mode disabled): encrypted at rest and in transit,
    AUTH token from Secrets Manager, non-default port, Multi-AZ with failover in prod.

    There is no L2 construct for ElastiCache replication groups, so this uses
    ``CfnReplicationGroup``.
    """

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
        cache = config.cache
        removal = config.removal_policy
        self.port = cache.port
        self.replication_group_id = f"{config.prefix}-cache"

        self.auth_token = secretsmanager.Secret(
            self,
            "AuthToken",
            secret_name=f"{config.prefix}/cache/auth-token",
            description="ElastiCache AUTH token (REDIS_PASSWORD)",
            removal_policy=removal,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                # AUTH tokens: 16-128 printable characters, no @ " / (punctuation excluded).
                password_length=64,
                exclude_punctuation=True,
            ),
        )
        self.security_group = ec2.SecurityGroup(
            self,
            "Sg",
            vpc=network.vpc,
            description="ElastiCache: ingress only from the app tasks on the cache port",
            allow_all_outbound=False,
        )
        self.subnet_group = elasticache.CfnSubnetGroup(
            self,
            "Subnets",
            description=f"{config.prefix}: isolated data subnets",
            subnet_ids=network.vpc.select_subnets(
                subnet_group_name=network.data_subnets.subnet_group_name
            ).subnet_ids,
        )
        self.slow_log = logs.LogGroup(
            self,
            "SlowLog",
            retention=retention_days(config.observability.log_retention_days),
            removal_policy=removal,
        )
        self.replication_group = elasticache.CfnReplicationGroup(
            self,
            "ReplicationGroup",
            replication_group_id=self.replication_group_id,
            replication_group_description=f"{config.prefix}: cache, Celery broker and results",
            engine=cache.engine,
            engine_version=cache.engine_version,
            cache_node_type=cache.node_type,
            num_cache_clusters=cache.num_cache_clusters,
            automatic_failover_enabled=cache.multi_az,
            multi_az_enabled=cache.multi_az,
            port=cache.port,
            at_rest_encryption_enabled=True,
            kms_key_id=key.key_arn,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            auth_token=self.auth_token.secret_value.unsafe_unwrap(),
            cache_subnet_group_name=self.subnet_group.ref,
            security_group_ids=[self.security_group.security_group_id],
            snapshot_retention_limit=cache.snapshot_retention_days,
            snapshot_window="16:00-17:00",
            preferred_maintenance_window="sun:19:30-sun:20:30",
            auto_minor_version_upgrade=True,
            log_delivery_configurations=[
                elasticache.CfnReplicationGroup.LogDeliveryConfigurationRequestProperty(
                    destination_type="cloudwatch-logs",
                    log_format="json",
                    log_type="slow-log",
                    destination_details=elasticache.CfnReplicationGroup.DestinationDetailsProperty(
                        cloud_watch_logs_details=elasticache.CfnReplicationGroup.CloudWatchLogsDestinationDetailsProperty(
                            log_group=self.slow_log.log_group_name
                        )
                    ),
                )
            ],
        )
        acknowledge(
            self.auth_token,
            "AwsSolutions-SMG4",
            "Rotating an ElastiCache AUTH token needs a ROTATE/SET modify of the replication "
            "group coordinated with every client; no managed rotation function exists for it, "
            "so it is rotated by a planned change.",
        )
        if not cache.multi_az:
            acknowledge(
                self.replication_group,
                "AwsSolutions-AEC4",
                f"The {config.name} environment runs a single cache node to save cost; losing "
                "it loses only cache entries and queued dev jobs. Prod is Multi-AZ with failover.",
            )
        self.replication_group.apply_removal_policy(
            RemovalPolicy.SNAPSHOT if config.production else RemovalPolicy.DESTROY
        )

    @property
    def member_cluster_ids(self) -> list[str]:
        """Node ids of a cluster-mode-disabled group: ``<group id>-001`` ... ``-00N``."""
        n = self.replication_group.num_cache_clusters
        assert isinstance(n, int)
        return [f"{self.replication_group_id}-{i:03d}" for i in range(1, n + 1)]

    @property
    def hostname(self) -> str:
        return self.replication_group.attr_primary_end_point_address

    @property
    def port_as_string(self) -> str:
        return self.replication_group.attr_primary_end_point_port

    def redis_url(self) -> str:
        """The settings contract's ``REDIS_URL`` (the password comes as a secret)."""
        return f"rediss://{self.hostname}:{self.port_as_string}/0"
