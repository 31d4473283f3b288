"""Network: the VPC, its subnets, NAT, flow logs and VPC endpoints."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import EnvConfig
from infra.nag import acknowledge
from infra.retention import retention_days

PUBLIC = "public"
APP = "app"
DATA = "data"


class Network(Construct):
    """VPC over the configured AZs (2 in dev, 3 in prod).

    * ``public``: NAT gateways only (nothing else is public: the ALB is internal and
      reached through a CloudFront VPC origin).
    * ``app`` (private with egress): ECS tasks, the internal ALB, interface endpoints.
    * ``data`` (isolated, no route out): DocumentDB and ElastiCache.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvConfig) -> None:
        super().__init__(scope, construct_id)
        self.flow_log_group = logs.LogGroup(
            self,
            "FlowLogs",
            retention=retention_days(config.network.flow_log_retention_days),
            removal_policy=config.removal_policy,
        )
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(config.network.cidr),
            availability_zones=list(config.availability_zones),
            nat_gateways=config.network.nat_gateways,
            restrict_default_security_group=True,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name=PUBLIC, subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24
                ),
                ec2.SubnetConfiguration(
                    name=APP, subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=20
                ),
                ec2.SubnetConfiguration(
                    name=DATA, subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
                ),
            ],
            flow_logs={
                "all": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(self.flow_log_group),
                    traffic_type=ec2.FlowLogTrafficType.ALL,
                )
            },
        )
        acknowledge(
            self.vpc,
            "CloudFormation-Validate::W3010",
            "Zones are listed per environment in cdk.json on purpose: synthesis needs no "
            "AWS lookup, and subnets never move when AWS changes a region's zone list.",
        )
        self.vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3)
        app_subnets = ec2.SubnetSelection(subnet_group_name=APP)
        self.endpoint_security_group = ec2.SecurityGroup(
            self,
            "EndpointSg",
            vpc=self.vpc,
            description="Interface VPC endpoints: HTTPS from inside the VPC only",
            allow_all_outbound=False,
        )
        self.endpoint_security_group.add_ingress_rule(
            ec2.Peer.ipv4(config.network.cidr), ec2.Port.tcp(443), "HTTPS from the VPC"
        )
        for name, service in (
            ("EcrApi", ec2.InterfaceVpcEndpointAwsService.ECR),
            ("EcrDocker", ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER),
            ("Logs", ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS),
            ("SecretsManager", ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER),
        ):
            self.vpc.add_interface_endpoint(
                name,
                service=service,
                subnets=app_subnets,
                private_dns_enabled=True,
                security_groups=[self.endpoint_security_group],
                open=False,
            )

    @property
    def app_subnets(self) -> ec2.SubnetSelection:
        return ec2.SubnetSelection(subnet_group_name=APP)

    @property
    def data_subnets(self) -> ec2.SubnetSelection:
        return ec2.SubnetSelection(subnet_group_name=DATA)
