"""Stacks: constructs grouped by lifecycle.

* ``Network`` - the VPC (long-lived, rarely changed).
* ``Data`` - stateful: DocumentDB, the cache, the uploads and access-log buckets and the
  application secrets. Termination protection and RETAIN policies in production.
* ``Auth`` - stateful: the Cognito user pool (holds the users) and the SES identity and
  configuration set it and the service send mail through. Same protections.
* ``EdgeFirewall`` - us-east-1: the CLOUDFRONT-scope WAF web ACL and the ACM certificate.
* ``Service`` - stateless: ECS cluster and services, the ALB, CloudFront, alarms and the
  dashboard; it can be destroyed and recreated without losing data (in production its
  fixed-name log groups are retained: a re-create imports or first deletes them,
  docs/operations.md).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Environment, Fn, Stack, Tags
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.app_secrets import AppSecrets
from infra.auth import Auth
from infra.cache import Cache
from infra.config import EnvConfig
from infra.documentdb import DocumentDb
from infra.edge import Edge
from infra.logs_bucket import LogsBucket
from infra.mail import Mail, MailReputationAlarms
from infra.network import Network
from infra.observability import Observability
from infra.service import Service
from infra.uploads import Uploads, UploadsCors
from infra.waf import EdgeFirewall
from infra.web_app import WebApp, web_app_dist

GLOBAL_REGION = "us-east-1"


class BiwocoStack(Stack):
    """A stack of one environment. Its availability zones come from the config, so
    synthesis never looks them up in an AWS account."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvConfig,
        region: str | None = None,
        **kwargs: Any,
    ) -> None:
        self._biwoco_region = region or config.region
        self._biwoco_azs = list(config.availability_zones) if region is None else []
        super().__init__(
            scope,
            construct_id,
            env=Environment(account=config.account, region=self._biwoco_region),
            stack_name=f"{config.prefix}-{construct_id.lower()}",
            **kwargs,
        )
        self.config = config
        for key, value in config.tags.items():
            Tags.of(self).add(key, value)

    @property
    def availability_zones(self) -> list[str]:
        if self._biwoco_azs:
            return list(self._biwoco_azs)
        return [f"{self._biwoco_region}{suffix}" for suffix in ("a", "b", "c")]


class NetworkStack(BiwocoStack):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvConfig) -> None:
        super().__init__(
            scope,
            construct_id,
            config=config,
            description=f"biwoco {config.name}: VPC, subnets, NAT, flow logs, endpoints",
        )
        self.network = Network(self, "Network", config=config)


class DataStack(BiwocoStack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvConfig, network: Network
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            config=config,
            description=f"biwoco {config.name}: stateful data (DocumentDB, cache, S3, secrets)",
            termination_protection=config.production,
        )
        self.key = kms.Key(
            self,
            "DataKey",
            alias=f"alias/{config.prefix}/data",
            description=f"{config.prefix}: DocumentDB, ElastiCache and secrets encryption",
            enable_key_rotation=True,
        )
        self.logs = LogsBucket(self, "AccessLogs", config=config)
        self.documentdb = DocumentDb(
            self, "DocumentDb", config=config, network=network, key=self.key
        )
        self.cache = Cache(self, "Cache", config=config, network=network, key=self.key)
        self.uploads = Uploads(self, "Uploads", config=config, access_logs=self.logs.bucket)
        self.app_secrets = AppSecrets(self, "AppSecrets", config=config)


class AuthStack(BiwocoStack):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvConfig) -> None:
        super().__init__(
            scope,
            construct_id,
            config=config,
            description=f"biwoco {config.name}: Cognito user pool, SES identity",
            termination_protection=config.production,
        )
        self.mail = Mail(self, "Mail", config=config)
        self.auth = Auth(self, "Auth", config=config)
        # Cognito checks the identity when the pool is created or updated to send through it.
        self.auth.user_pool.node.add_dependency(self.mail.identity)


class EdgeFirewallStack(BiwocoStack):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvConfig) -> None:
        super().__init__(
            scope,
            construct_id,
            config=config,
            region=GLOBAL_REGION,
            description=f"biwoco {config.name}: CloudFront WAF web ACL and certificate",
        )
        self.firewall = EdgeFirewall(self, "Firewall", config=config)


class ServiceStack(BiwocoStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvConfig,
        network: Network,
        data: DataStack,
        auth: Auth,
        firewall: EdgeFirewall,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            config=config,
            description=f"biwoco {config.name}: ECS services, ALB, CloudFront, alarms",
            # The web ACL and certificate live in us-east-1.
            cross_region_references=config.region != GLOBAL_REGION,
        )
        self.service = Service(
            self,
            "Service",
            config=config,
            network=network,
            documentdb=data.documentdb,
            cache=data.cache,
            uploads=data.uploads,
            auth=auth,
            app_secrets=data.app_secrets,
            access_logs=data.logs.bucket,
        )
        self.web = WebApp(
            self,
            "WebApp",
            config=config,
            access_logs=data.logs.bucket,
            uploads_origins=data.uploads.browser_origins,
        )
        self.edge = Edge(
            self,
            "Edge",
            config=config,
            alb=self.service.alb,
            web_acl_arn=firewall.web_acl.attr_arn,
            certificate=firewall.certificate,
            access_logs=data.logs.bucket,
            web=self.web,
        )
        self.web.deploy(self.edge.distribution, web_app_dist())
        # The app is served on the distribution's URL: the mails' links point there.
        self.service.set_web_app_url(self.edge.url)
        # The app runs on the distribution's own URL; cors_origins adds other front ends.
        self.uploads_cors = UploadsCors(
            self, "UploadsCors", uploads=data.uploads, origins=[self.edge.url, *config.cors_origins]
        )
        self.observability = Observability(
            self,
            "Observability",
            config=config,
            service=self.service,
            documentdb=data.documentdb,
            cache=data.cache,
        )
        self.mail_alarms = MailReputationAlarms(
            self, "MailAlarms", config=config, topic=self.observability.topic
        )
        self.api_url_output = CfnOutput(
            self,
            "ApiUrl",
            value=self.edge.url,
            description="Public base URL of the API (CloudFront)",
        )
        # For one-off tasks (docs/operations.md: `aws ecs run-task` with a command override).
        CfnOutput(
            self,
            "TaskSubnets",
            value=Fn.join(",", network.vpc.select_subnets(subnet_group_name="app").subnet_ids),
            description="Subnets of the app tasks (one-off tasks run here)",
        )
        CfnOutput(
            self,
            "TaskSecurityGroup",
            value=self.service.api.security_group.security_group_id,
            description="Security group of the api tasks (reaches DocumentDB and the cache)",
        )
        self.distribution_id_output = CfnOutput(
            self,
            "DistributionId",
            value=self.edge.distribution.distribution_id,
            description="CloudFront distribution id",
        )
