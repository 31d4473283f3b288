"""infra/edge.py: CloudFront in front of the internal ALB (the API paths) and the web app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk.assertions import Template

from tests.infra.conftest import only, resources_of

Tpl = Callable[[str, str], Template]
Raw = Callable[[str, str], dict[str, Any]]

CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def _distribution(raw: Raw, env: str) -> dict[str, Any]:
    config: dict[str, Any] = only(raw(env, "service"), "AWS::CloudFront::Distribution")[
        "Properties"
    ]["DistributionConfig"]
    return config


def _api_behaviors(raw: Raw, env: str) -> dict[str, dict[str, Any]]:
    return {b["PathPattern"]: b for b in _distribution(raw, env)["CacheBehaviors"]}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_api_paths_go_to_the_alb(raw: Raw, env: str) -> None:
    behaviors = _api_behaviors(raw, env)
    assert set(behaviors) == {"/api/*", "/healthz/*", "/docs", "/openapi.json"}
    (api_origin,) = (o for o in _distribution(raw, env)["Origins"] if "VpcOriginConfig" in o)
    assert {b["TargetOriginId"] for b in behaviors.values()} == {api_origin["Id"]}
    # No web-app function or headers policy on the API: its errors are its own problem+json.
    for behavior in behaviors.values():
        assert "FunctionAssociations" not in behavior
        assert "ResponseHeadersPolicyId" not in behavior


@pytest.mark.parametrize("env", ["dev", "prod"])
@pytest.mark.parametrize("path", ["/api/*", "/healthz/*"])
def test_api_is_not_cached_and_https_only(raw: Raw, env: str, path: str) -> None:
    behavior = _api_behaviors(raw, env)[path]
    assert behavior["ViewerProtocolPolicy"] == "https-only"
    # Caching disabled + all viewer headers: Authorization and query strings reach the API.
    assert behavior["CachePolicyId"] == CACHING_DISABLED
    assert behavior["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    assert set(behavior["AllowedMethods"]) == {
        "GET",
        "HEAD",
        "OPTIONS",
        "PUT",
        "PATCH",
        "POST",
        "DELETE",
    }


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_origin_is_a_vpc_origin_to_the_internal_alb(raw: Raw, env: str) -> None:
    tpl = raw(env, "service")
    vpc_origin = only(tpl, "AWS::CloudFront::VpcOrigin")["Properties"]["VpcOriginEndpointConfig"]
    (alb_id,) = resources_of(tpl, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert vpc_origin["Arn"] == {"Ref": alb_id}
    vpc_origins = [o for o in _distribution(raw, env)["Origins"] if "VpcOriginConfig" in o]
    assert len(vpc_origins) == 1
    alb = tpl["Resources"][alb_id]["Properties"]
    assert alb["Scheme"] == "internal"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_vpc_origin_keeps_its_logical_id_across_releases(raw: Raw, env: str) -> None:
    # The first release's id (CDK made the VPC origin inside the distribution's first origin,
    # which the web app now is): a new id would create a second VPC origin of the same name for
    # the same ALB during the update, before deleting the first.
    (logical_id,) = resources_of(raw(env, "service"), "AWS::CloudFront::VpcOrigin")
    assert logical_id == "EdgeDistributionOrigin1VpcOrigin4FC461C2"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_waf_and_access_logs(raw: Raw, env: str) -> None:
    dist = _distribution(raw, env)
    # The web ACL comes from the us-east-1 stack (a cross-region reference).
    assert "WebACLId" in dist
    assert dist["Logging"]["Prefix"] == f"cloudfront/biwoco-{env}/"


def test_prod_custom_domain_with_tls12(raw: Raw) -> None:
    dist = _distribution(raw, "prod")
    assert dist["Aliases"] == ["api.biwoco.example"]
    assert dist["ViewerCertificate"]["MinimumProtocolVersion"] == "TLSv1.2_2021"
    assert dist["ViewerCertificate"]["SslSupportMethod"] == "sni-only"
    records = resources_of(raw("prod", "service"), "AWS::Route53::RecordSet")
    assert sorted(r["Properties"]["Type"] for r in records.values()) == ["A", "AAAA"]


def test_dev_uses_the_cloudfront_domain(raw: Raw) -> None:
    dist = _distribution(raw, "dev")
    assert "Aliases" not in dist
