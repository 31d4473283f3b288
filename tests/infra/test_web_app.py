"""infra/web_app.py: the web app's private bucket behind CloudFront (origin access control), its
behaviour, headers policy, routing function and deployment."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from infra.web_app import ASSETS_CACHE_CONTROL, INDEX_CACHE_CONTROL, SPA_ROUTING_FUNCTION
from tests.infra.conftest import only, resources_of
from tests.infra.test_uploads import BLOCK_ALL
from tests.web.node import NODE

Raw = Callable[[str, str], dict[str, Any]]
ENVS = ["dev", "prod"]
ACCOUNTS = {"dev": "111111111111", "prod": "222222222222"}


def _web_bucket_id(tpl: dict[str, Any]) -> str:
    (bucket_id,) = [k for k in resources_of(tpl, "AWS::S3::Bucket") if k.startswith("WebApp")]
    return bucket_id


def _distribution(tpl: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = only(tpl, "AWS::CloudFront::Distribution")["Properties"][
        "DistributionConfig"
    ]
    return config


@pytest.mark.parametrize("env", ENVS)
def test_the_bucket_is_private(raw: Raw, env: str) -> None:
    tpl = raw(env, "service")
    props = tpl["Resources"][_web_bucket_id(tpl)]["Properties"]
    assert props["PublicAccessBlockConfiguration"] == BLOCK_ALL
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert "WebsiteConfiguration" not in props  # served by CloudFront, never by S3 website
    assert props["LoggingConfiguration"]["LogFilePrefix"] == f"s3/biwoco-{env}-web/"


@pytest.mark.parametrize("env", ENVS)
def test_only_cloudfront_reads_it_through_origin_access_control(raw: Raw, env: str) -> None:
    tpl = raw(env, "service")
    bucket_id = _web_bucket_id(tpl)
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in resources_of(tpl, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    readers = [s for s in policy if s["Effect"] == "Allow" and "s3:GetObject" in s["Action"]]
    assert len(readers) == 1
    (reader,) = readers
    assert reader["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    (distribution_id,) = resources_of(tpl, "AWS::CloudFront::Distribution")
    source_arn = json.dumps(reader["Condition"]["StringEquals"]["AWS:SourceArn"])
    assert distribution_id in source_arn
    denies = [s for s in policy if s["Effect"] == "Deny"]
    assert {"Bool": {"aws:SecureTransport": "false"}} in [s["Condition"] for s in denies]

    oac = only(tpl, "AWS::CloudFront::OriginAccessControl")["Properties"][
        "OriginAccessControlConfig"
    ]
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"]) == ("s3", "always")
    (origin,) = [o for o in _distribution(tpl)["Origins"] if "S3OriginConfig" in o]
    assert origin["DomainName"] == {"Fn::GetAtt": [bucket_id, "RegionalDomainName"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # OAC, not a legacy OAI
    assert "OriginAccessControlId" in origin


@pytest.mark.parametrize("env", ENVS)
def test_the_default_behaviour_serves_the_app(raw: Raw, env: str) -> None:
    tpl = raw(env, "service")
    distribution = _distribution(tpl)
    behavior = distribution["DefaultCacheBehavior"]
    (s3_origin,) = [o for o in distribution["Origins"] if "S3OriginConfig" in o]
    assert behavior["TargetOriginId"] == s3_origin["Id"]
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behavior["AllowedMethods"] == ["GET", "HEAD"]
    assert behavior["Compress"] is True
    assert distribution["DefaultRootObject"] == "index.html"
    # The objects' Cache-Control decides (a year for hashed assets, revalidate index.html):
    # min TTL 0, so `no-cache` is honoured; nothing of the viewer's in the key.
    cache = only(tpl, "AWS::CloudFront::CachePolicy")["Properties"]["CachePolicyConfig"]
    assert behavior["CachePolicyId"] == {
        "Ref": next(iter(resources_of(tpl, "AWS::CloudFront::CachePolicy")))
    }
    assert (cache["MinTTL"], cache["MaxTTL"]) == (0, 365 * 24 * 3600)
    key = cache["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["EnableAcceptEncodingGzip"]
    assert key["EnableAcceptEncodingBrotli"]
    assert key["QueryStringsConfig"] == {"QueryStringBehavior": "none"}
    assert key["CookiesConfig"] == {"CookieBehavior": "none"}
    (association,) = behavior["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    function = only(tpl, "AWS::CloudFront::Function")["Properties"]
    assert function["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    assert function["FunctionCode"] == SPA_ROUTING_FUNCTION


@pytest.mark.parametrize("env", ENVS)
def test_the_headers_policy(raw: Raw, env: str) -> None:
    tpl = raw(env, "service")
    (policy_id,) = resources_of(tpl, "AWS::CloudFront::ResponseHeadersPolicy")
    assert _distribution(tpl)["DefaultCacheBehavior"]["ResponseHeadersPolicyId"] == {
        "Ref": policy_id
    }
    headers = tpl["Resources"][policy_id]["Properties"]["ResponseHeadersPolicyConfig"][
        "SecurityHeadersConfig"
    ]
    assert headers["StrictTransportSecurity"] == {
        "AccessControlMaxAgeSec": 63072000,
        "IncludeSubdomains": True,
        "Override": True,
    }
    assert headers["ContentTypeOptions"] == {"Override": True}
    assert headers["FrameOptions"] == {"FrameOption": "DENY", "Override": True}
    directives = dict(
        d.strip().split(" ", 1)
        for d in headers["ContentSecurityPolicy"]["ContentSecurityPolicy"].split(";")
        if " " in d.strip()
    )
    # Exactly the API (this origin) and the uploads bucket the app posts to.
    uploads = f"https://biwoco-{env}-uploads-{ACCOUNTS[env]}-ap-southeast-1.s3.ap-southeast-1.amazonaws.com"
    assert directives["connect-src"] == f"'self' {uploads}"
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"


@pytest.mark.parametrize("env", ENVS)
def test_the_deployment_uploads_assets_then_index_and_invalidates_only_index(
    raw: Raw, env: str
) -> None:
    tpl = raw(env, "service")
    deployments = resources_of(tpl, "Custom::CDKBucketDeployment")
    assert len(deployments) == 2
    (assets_id,) = [k for k in deployments if k.startswith("WebAppAssets")]
    (index_id,) = [k for k in deployments if k.startswith("WebAppIndex")]
    assets, index = deployments[assets_id], deployments[index_id]
    bucket = {"Ref": _web_bucket_id(tpl)}
    for deployment in (assets, index):
        assert deployment["Properties"]["DestinationBucketName"] == bucket
        assert deployment["Properties"]["Prune"] is False  # old assets outlive a rollout
    assert assets["Properties"]["SystemMetadata"] == {"cache-control": ASSETS_CACHE_CONTROL}
    assert "DistributionPaths" not in assets["Properties"]
    assert index["Properties"]["SystemMetadata"] == {"cache-control": INDEX_CACHE_CONTROL}
    assert index["Properties"]["DistributionPaths"] == ["/index.html"]
    assert assets_id in index["DependsOn"]


@pytest.mark.parametrize(
    ("uri", "served"),
    [
        ("/", "/index.html"),
        ("/files", "/index.html"),
        ("/verify-email", "/index.html"),
        ("/some/deep/page", "/index.html"),
        ("/index.html", "/index.html"),
        ("/assets/index-CwBBJ1Pv.js", "/assets/index-CwBBJ1Pv.js"),
        ("/favicon.svg", "/favicon.svg"),
        ("/assets/missing.css", "/assets/missing.css"),  # a missing file stays a 404
    ],
)
def test_the_routing_function_sends_pages_to_index(uri: str, served: str) -> None:
    # The function's own code, run by Node with the event shape CloudFront passes.
    script = (
        f"{SPA_ROUTING_FUNCTION}\n"
        f"process.stdout.write(handler({{request: {{uri: {json.dumps(uri)}}}}}).uri);"
    )
    result = subprocess.run(
        [str(NODE), "-e", script], capture_output=True, text=True, check=True, timeout=30
    )
    assert result.stdout == served
