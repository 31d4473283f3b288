"""infra/uploads.py and infra/logs_bucket.py: S3 buckets."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.uploads_cors import uploads_cors_rules
from tests.infra.conftest import resources_of

Tpl = Callable[[str, str], Template]
Raw = Callable[[str, str], dict[str, Any]]

BLOCK_ALL = {
    "BlockPublicAcls": True,
    "BlockPublicPolicy": True,
    "IgnorePublicAcls": True,
    "RestrictPublicBuckets": True,
}


def _uploads(raw: Raw, env: str) -> dict[str, Any]:
    buckets = resources_of(raw(env, "data"), "AWS::S3::Bucket")
    (bucket,) = [b for k, b in buckets.items() if k.startswith("UploadsBucket")]
    props: dict[str, Any] = bucket["Properties"]
    return props


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_bucket_blocks_public_access(raw: Raw, env: str) -> None:
    buckets = resources_of(raw(env, "data"), "AWS::S3::Bucket")
    assert len(buckets) == 2
    for bucket in buckets.values():
        assert bucket["Properties"]["PublicAccessBlockConfiguration"] == BLOCK_ALL


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_uploads_bucket(raw: Raw, env: str) -> None:
    props = _uploads(raw, env)
    account = "111111111111" if env == "dev" else "222222222222"
    assert props["BucketName"] == f"biwoco-{env}-uploads-{account}-ap-southeast-1"
    rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert "KMSMasterKeyID" in rule["ServerSideEncryptionByDefault"]
    assert rule["BucketKeyEnabled"] is True
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["LoggingConfiguration"]["LogFilePrefix"] == f"s3/biwoco-{env}-uploads/"
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    assert rules["abort-incomplete-multipart-uploads"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 1
    }


def _cors_call(raw: Raw, env: str, phase: str) -> Any:
    (resource,) = resources_of(raw(env, "service"), "Custom::UploadsCors").values()
    return resource["Properties"][phase]


def test_uploads_cors_allows_the_apps_origins_for_presigned_post_and_get(raw: Raw) -> None:
    call = json.loads(_cors_call(raw, "prod", "Create"))
    assert call["action"] == "putBucketCors"
    assert call["parameters"]["Bucket"] == "biwoco-prod-uploads-222222222222-ap-southeast-1"
    (rule,) = call["parameters"]["CORSConfiguration"]["CORSRules"]
    # The presigned POST and GET of the web app, from its origins only, and nothing else.
    assert rule["AllowedMethods"] == ["POST", "GET"]
    # The distribution's own URL (it serves the app), then the configured extra origins.
    assert rule["AllowedOrigins"] == ["https://api.biwoco.example", "https://app.biwoco.example"]
    assert "AllowedHeaders" not in rule
    # The same rules as the local stack's (infra/uploads_cors.py).
    assert [rule] == uploads_cors_rules(rule["AllowedOrigins"])
    assert _cors_call(raw, "prod", "Update") == _cors_call(raw, "prod", "Create")
    assert json.loads(_cors_call(raw, "prod", "Delete"))["action"] == "deleteBucketCors"


def test_without_a_domain_the_cors_origin_is_the_distributions_own(raw: Raw) -> None:
    (distribution_id,) = resources_of(raw("dev", "service"), "AWS::CloudFront::Distribution")
    parts = _cors_call(raw, "dev", "Create")["Fn::Join"][1]
    assert {"Fn::GetAtt": [distribution_id, "DomainName"]} in parts
    assert parts[0].endswith('"AllowedOrigins":["https://')


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_bucket_template_leaves_cors_to_the_service_stack(raw: Raw, env: str) -> None:
    # Owned by one place: a data-stack update never resets what the service stack put.
    assert "CorsConfiguration" not in _uploads(raw, env)
    (policy,) = [
        p
        for k, p in resources_of(raw(env, "service"), "AWS::IAM::Policy").items()
        if k.startswith("UploadsCors")
    ]
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "s3:PutBucketCORS"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_ssl_only_and_right_key_policies(template: Tpl, env: str) -> None:
    t = template(env, "data")
    t.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "s3:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        ),
                        Match.object_like({"Sid": "DenyWrongKmsKey", "Effect": "Deny"}),
                    ]
                )
            }
        },
    )


def test_prod_buckets_are_retained(raw: Raw) -> None:
    for bucket in resources_of(raw("prod", "data"), "AWS::S3::Bucket").values():
        assert bucket["DeletionPolicy"] == "Retain"
