"""Edge (global part): the WAF web ACL for CloudFront and the custom-domain certificate.

Both must live in us-east-1 whatever the environment's region: CloudFront only accepts
web ACLs of scope ``CLOUDFRONT`` and ACM certificates from that region.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.config import EnvConfig
from infra.retention import retention_days

# The common rule set blocks request bodies over 8 KB (SizeRestrictions_BODY); the API accepts
# up to MAX_REQUEST_BODY_BYTES (1 MiB) and answers larger ones itself with a documented 413.
# The rule counts instead of blocking, so the API's limit is the one that applies.
WAF_BODY_SIZE_RULE = "SizeRestrictions_BODY"
WAF_BODY_SIZE_LIMIT_BYTES = 8 * 1024
COUNTED_RULES = {"AWSManagedRulesCommonRuleSet": (WAF_BODY_SIZE_RULE,)}

MANAGED_RULE_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
)


def _visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
    )


class EdgeFirewall(Construct):
    """A CLOUDFRONT-scope web ACL (AWS managed common, known-bad-inputs and IP-reputation
    rule groups, then a per-IP rate limit), logged to CloudWatch Logs."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvConfig) -> None:
        super().__init__(scope, construct_id)
        rules: list[wafv2.CfnWebACL.RuleProperty] = []
        for priority, group in enumerate(MANAGED_RULE_GROUPS):
            rules.append(
                wafv2.CfnWebACL.RuleProperty(
                    name=group,
                    priority=priority,
                    override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                            vendor_name="AWS",
                            name=group,
                            rule_action_overrides=[
                                wafv2.CfnWebACL.RuleActionOverrideProperty(
                                    name=rule,
                                    action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={}),
                                )
                                for rule in COUNTED_RULES.get(group, ())
                            ]
                            or None,
                        ),
                    ),
                    visibility_config=_visibility(group),
                )
            )
        rules.append(
            wafv2.CfnWebACL.RuleProperty(
                name="RateLimitPerIp",
                priority=len(rules),
                action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        limit=config.edge.waf_rate_limit_per_5_min,
                        aggregate_key_type="IP",
                        evaluation_window_sec=300,
                    )
                ),
                visibility_config=_visibility("RateLimitPerIp"),
            )
        )
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=f"{config.prefix}-edge",
            scope="CLOUDFRONT",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(f"{config.prefix}-edge"),
            rules=rules,
        )
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            # WAF requires the name to start with aws-waf-logs-.
            log_group_name=f"aws-waf-logs-{config.prefix}",
            retention=retention_days(config.observability.log_retention_days),
            removal_policy=config.removal_policy,
        )
        self.logging = wafv2.CfnLoggingConfiguration(
            self,
            "Logging",
            resource_arn=self.web_acl.attr_arn,
            # WAF wants the log group ARN without the ":*" suffix of its GetAtt Arn.
            log_destination_configs=[
                Stack.of(self).format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=self.log_group.log_group_name,
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
            # Never keep credentials in the WAF log.
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(
                    single_header={"Name": "authorization"}
                ),
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(
                    single_header={"Name": "cookie"}
                ),
            ],
        )

        self.certificate: acm.ICertificate | None = None
        domain = config.edge.domain
        if domain is not None:
            zone = route53.HostedZone.from_hosted_zone_attributes(
                self,
                "Zone",
                hosted_zone_id=domain.hosted_zone_id,
                zone_name=domain.hosted_zone_name,
            )
            self.certificate = acm.Certificate(
                self,
                "Certificate",
                domain_name=domain.name,
                validation=acm.CertificateValidation.from_dns(zone),
            )
