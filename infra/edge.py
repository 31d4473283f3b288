"""Edge (regional part): the CloudFront distribution, the public entry point of the web app and
the API."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import EnvConfig
from infra.nag import acknowledge
from infra.web_app import WebApp

_PRICE_CLASS = {
    "PriceClass_100": cloudfront.PriceClass.PRICE_CLASS_100,
    "PriceClass_200": cloudfront.PriceClass.PRICE_CLASS_200,
    "PriceClass_All": cloudfront.PriceClass.PRICE_CLASS_ALL,
}


# Paths the API answers, on the same origin as the app (so the app needs no API CORS).
# The ALB's VPC origin as the first deployed release named it (see Edge): kept so that an update
# changes the existing VPC origin in place.
PREVIOUS_VPC_ORIGIN_LOGICAL_ID = "EdgeDistributionOrigin1VpcOrigin4FC461C2"
API_PATH_PATTERNS = ("/api/*", "/healthz/*", "/docs", "/openapi.json")


class Edge(Construct):
    """CloudFront: the default behaviour serves the web app from its bucket (see
    :class:`~infra.web_app.WebApp`); ``/api/*``, ``/healthz/*`` and the API's docs go ->
    (VPC origin) -> internal ALB. Nothing of the API is cached: every method is allowed, and
    every viewer header (``Authorization`` included, which CloudFront allows with caching
    disabled), cookie and query string reaches the API. HTTPS only for the API; TLSv1.2_2021
    with the custom domain's certificate."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvConfig,
        alb: elbv2.IApplicationLoadBalancer,
        web_acl_arn: str,
        certificate: acm.ICertificate | None,
        access_logs: s3.IBucket,
        web: WebApp,
    ) -> None:
        super().__init__(scope, construct_id)
        domain = config.edge.domain
        if (domain is None) != (certificate is None):
            raise ValueError("a custom domain and its certificate go together")

        # The ALB is internal: CloudFront reaches it through a VPC origin, inside the VPC.
        self.vpc_origin = cloudfront.VpcOrigin(
            self,
            "AlbVpcOrigin",
            endpoint=cloudfront.VpcOriginEndpoint.application_load_balancer(alb),
            vpc_origin_name=f"{config.prefix}-alb",
            protocol_policy=cloudfront.OriginProtocolPolicy.HTTP_ONLY,
            http_port=80,
        )
        # The logical id the VPC origin had when CDK made it inside the distribution's first
        # origin (before the web app took that place). A new id would make an update create a
        # second VPC origin of the same name for the same ALB before deleting the first.
        cfn_vpc_origin = self.vpc_origin.node.default_child
        assert isinstance(cfn_vpc_origin, cloudfront.CfnVpcOrigin)
        cfn_vpc_origin.override_logical_id(PREVIOUS_VPC_ORIGIN_LOGICAL_ID)
        self.origin = origins.VpcOrigin.with_vpc_origin(
            self.vpc_origin,
            domain_name=alb.load_balancer_dns_name,
            read_timeout=Duration.seconds(60),
            keepalive_timeout=Duration.seconds(5),
        )
        api = cloudfront.BehaviorOptions(
            origin=self.origin,
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
            cached_methods=cloudfront.CachedMethods.CACHE_GET_HEAD,
            cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
            origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            compress=True,
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"{config.prefix} web app and API",
            default_behavior=web.behavior(),
            additional_behaviors=dict.fromkeys(API_PATH_PATTERNS, api),
            default_root_object="index.html",
            domain_names=[domain.name] if domain else None,
            certificate=certificate,
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
            ssl_support_method=cloudfront.SSLMethod.SNI if certificate else None,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=_PRICE_CLASS[config.edge.price_class],
            web_acl_id=web_acl_arn,
            enable_logging=True,
            log_bucket=access_logs,
            log_file_prefix=f"cloudfront/{config.prefix}/",
            log_includes_cookies=False,
            enable_ipv6=True,
        )
        if domain is not None:
            zone = route53.HostedZone.from_hosted_zone_attributes(
                self,
                "Zone",
                hosted_zone_id=domain.hosted_zone_id,
                zone_name=domain.hosted_zone_name,
            )
            for record_type, cls in (("A", route53.ARecord), ("AAAA", route53.AaaaRecord)):
                cls(
                    self,
                    f"Alias{record_type}",
                    zone=zone,
                    record_name=domain.name,
                    target=route53.RecordTarget.from_alias(
                        route53_targets.CloudFrontTarget(self.distribution)
                    ),
                )
            self.url = f"https://{domain.name}"
        else:
            self.url = f"https://{self.distribution.distribution_domain_name}"
            acknowledge(
                self.distribution,
                "AwsSolutions-CFR4",
                f"The {config.name} environment has no custom domain, so CloudFront serves "
                "its default *.cloudfront.net certificate, whose security policy CloudFront "
                "fixes at TLSv1; environments with a domain use TLSv1.2_2021.",
            )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR1",
            "The API serves a public mobile and web client in every country; access control "
            "is authentication plus the WAF (rate limit, IP reputation), not geography.",
        )
