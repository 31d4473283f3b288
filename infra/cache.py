"""Data: two ElastiCache replication groups (Valkey / Redis 7), one per eviction policy.

* ``state`` (``noeviction``): the Celery broker and result store, the auth state (deny-list,
  session generations, refresh families, lock-out counters, one-time tokens), the mail outbox,
  the task-effect ledger and beat's lock. Nothing here may be evicted: a revoked token whose
  deny-list key is evicted is valid again, and an evicted broker message is a lost job. When
  it is full, writes fail loudly (the API answers 503) instead; an alarm fires long before.
* ``cache`` (``allkeys-lru``): the tagged cache of reads (``REDIS_CACHE_URL``). Evicting
  there costs only a database read; the backend treats an evicted tag stamp as a miss.

An eviction policy applies to a whole server (every logical database of it), so two
groups are the only layout that keeps auth state out of reach of the cache's evictions.
"""

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

STATE_EVICTION_POLICY = "noeviction"
CACHE_EVICTION_POLICY = "allkeys-lru"


def parameter_group_family(engine: str, version: str) -> str:
    """``valkey8`` for Valkey 8.x, ``redis7`` for Redis OSS 7.x."""
    return f"{engine}{version.split('.')[0]}"


class RedisGroup(Construct):
    """One replication group (cluster mode disabled): encrypted at rest and in transit, its
    own AUTH token from Secrets Manager, its eviction policy in its own parameter group,
    Multi-AZ with failover in prod."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvConfig,
        role: str,
        eviction_policy: str,
        node_type: str,
        description: str,
        key: kms.IKey,
        security_group: ec2.ISecurityGroup,
        subnet_group: elasticache.CfnSubnetGroup,
        previous_single_group: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        cache = config.cache
        removal = config.removal_policy
        self.role = role
        self.eviction_policy = eviction_policy
        # The previous release ran one group (`<prefix>-cache`, no parameter group: the default
        # volatile-lru). The state group IS that group: the same logical ids (its resources
        # sit in the parent's scope, as they did), the same group id and AUTH token, so the
        # upgrade updates it in place (a parameter group and a description are no-interruption
        # updates), keeps its queued jobs, deny-list and sessions, and keeps the three exports
        # the deployed service stack imports (CloudFormation refuses to delete an export in
        # use). Only the cache group is new.
        owner: Construct = scope if previous_single_group else self
        self.replication_group_id = (
            f"{config.prefix}-cache" if previous_single_group else f"{config.prefix}-redis-{role}"
        )
        self.auth_token = secretsmanager.Secret(
            owner,
            "AuthToken",
            secret_name=f"{config.prefix}/cache/auth-token"
            if previous_single_group
            else f"{config.prefix}/redis/{role}-auth-token",
            description="ElastiCache AUTH token (REDIS_PASSWORD)"
            if previous_single_group
            else f"ElastiCache AUTH token of the {role} group",
            removal_policy=removal,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                # AUTH tokens: 16-128 printable characters, no @ " / (punctuation excluded).
                password_length=64,
                exclude_punctuation=True,
            ),
        )
        self.parameter_group = elasticache.CfnParameterGroup(
            self,
            "Parameters",
            cache_parameter_group_family=parameter_group_family(cache.engine, cache.engine_version),
            description=f"{config.prefix} {role}: maxmemory-policy {eviction_policy}",
            properties={"maxmemory-policy": eviction_policy},
        )
        self.slow_log = logs.LogGroup(
            owner,
            "SlowLog",
            retention=retention_days(config.observability.log_retention_days),
            removal_policy=removal,
        )
        self.replication_group = elasticache.CfnReplicationGroup(
            owner,
            "ReplicationGroup",
            replication_group_id=self.replication_group_id,
            replication_group_description=f"{config.prefix}: {description}",
            engine=cache.engine,
            engine_version=cache.engine_version,
            cache_node_type=node_type,
            cache_parameter_group_name=self.parameter_group.ref,
            num_cache_clusters=cache.num_cache_clusters,
            automatic_failover_enabled=cache.multi_az,
            multi_az_enabled=cache.multi_az,
            port=cache.port,
            at_rest_encryption_enabled=True,
            kms_key_id=key.key_arn,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            auth_token=self.auth_token.secret_value.unsafe_unwrap(),
            cache_subnet_group_name=subnet_group.ref,
            security_group_ids=[security_group.security_group_id],
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
            "so it is rotated by a planned change (docs/operations.md).",
        )
        if not cache.multi_az:
            acknowledge(
                self.replication_group,
                "AwsSolutions-AEC4",
                f"The {config.name} environment runs a single node per group to save cost; "
                "losing it loses only dev sessions, cache entries and queued dev jobs. Prod "
                "is Multi-AZ with failover.",
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

    def redis_url(self) -> str:
        """``rediss://<primary>:<port>/0`` (the password comes separately, as a secret)."""
        rg = self.replication_group
        return f"rediss://{rg.attr_primary_end_point_address}:{rg.attr_primary_end_point_port}/0"


class Cache(Construct):
    """The ``state`` and ``cache`` groups (module docstring), one security group and one
    subnet group for both. There is no L2 construct for ElastiCache replication groups."""

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
        self.port = config.cache.port
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
        self.state = RedisGroup(
            self,
            "State",
            role="state",
            eviction_policy=STATE_EVICTION_POLICY,
            node_type=config.cache.node_type,
            description="Celery broker and results, auth state, outbox (never evicted)",
            config=config,
            key=key,
            security_group=self.security_group,
            subnet_group=self.subnet_group,
            previous_single_group=True,
        )
        self.cache = RedisGroup(
            self,
            "Cache",
            role="cache",
            eviction_policy=CACHE_EVICTION_POLICY,
            node_type=config.cache.cache_node_type,
            description="tagged read cache (least recently used keys evicted)",
            config=config,
            key=key,
            security_group=self.security_group,
            subnet_group=self.subnet_group,
        )

    @property
    def groups(self) -> tuple[RedisGroup, RedisGroup]:
        return (self.state, self.cache)
