"""infra/waf.py: the us-east-1 web ACL and certificate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.stacks import GLOBAL_REGION
from tests.infra.conftest import Synth, only, resources_of

Tpl = Callable[[str, str], Template]
Raw = Callable[[str, str], dict[str, Any]]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_web_acl_is_global_with_managed_groups_and_rate_limit(
    raw: Raw, synth: Synth, env: str
) -> None:
    assert synth.stack(env, "edge_firewall").region == GLOBAL_REGION
    acl = only(raw(env, "edge_firewall"), "AWS::WAFv2::WebACL")["Properties"]
    assert acl["Scope"] == "CLOUDFRONT"
    assert acl["DefaultAction"] == {"Allow": {}}
    managed = {
        r["Statement"]["ManagedRuleGroupStatement"]["Name"]
        for r in acl["Rules"]
        if "ManagedRuleGroupStatement" in r["Statement"]
    }
    assert managed == {
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
    }
    (rate,) = [r for r in acl["Rules"] if "RateBasedStatement" in r["Statement"]]
    assert rate["Action"] == {"Block": {}}
    assert rate["Statement"]["RateBasedStatement"]["AggregateKeyType"] == "IP"
    assert rate["Statement"]["RateBasedStatement"]["Limit"] == 2000


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_waf_logging(template: Tpl, raw: Raw, env: str) -> None:
    t = template(env, "edge_firewall")
    t.has_resource_properties("AWS::Logs::LogGroup", {"LogGroupName": f"aws-waf-logs-biwoco-{env}"})
    logging = only(raw(env, "edge_firewall"), "AWS::WAFv2::LoggingConfiguration")["Properties"]
    (destination,) = logging["LogDestinationConfigs"]
    parts = destination["Fn::Join"][1]
    assert parts[0].endswith(":log-group:")  # the ARN without GetAtt Arn's ":*" suffix
    assert parts[1]["Ref"].startswith("FirewallLogs")
    assert {"SingleHeader": {"Name": "authorization"}} in logging["RedactedFields"]


def test_certificate_only_with_a_domain(raw: Raw) -> None:
    assert not resources_of(raw("dev", "edge_firewall"), "AWS::CertificateManager::Certificate")
    cert = only(raw("prod", "edge_firewall"), "AWS::CertificateManager::Certificate")["Properties"]
    assert cert["DomainName"] == "api.biwoco.example"
    assert cert["ValidationMethod"] == "DNS"
