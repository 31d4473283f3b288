"""infra/uploads.py and infra/logs_bucket.py: S3 buckets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

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


def test_uploads_cors_allows_presigned_post_from_configured_origins(raw: Raw) -> None:
    (cors,) = _uploads(raw, "prod")["CorsConfiguration"]["CorsRules"]
    # The presigned POST and GET of the web app, from its origins only, and nothing else.
    assert cors["AllowedMethods"] == ["POST", "GET"]
    # The distribution's own domain (it serves the app), then the configured extra origins.
    assert cors["AllowedOrigins"] == ["https://api.biwoco.example", "https://app.biwoco.example"]
    assert "AllowedHeaders" not in cors


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_uploads_cors_is_the_local_stacks_rule(raw: Raw, env: str) -> None:
    from infra.config import load_configs
    from infra.uploads_cors import uploads_cors_rules

    (rule,) = uploads_cors_rules(load_configs()[env].web_origins)
    (cors,) = _uploads(raw, env)["CorsConfiguration"]["CorsRules"]
    assert cors == {
        "Id": rule["ID"],
        "AllowedMethods": rule["AllowedMethods"],
        "AllowedOrigins": rule["AllowedOrigins"],
        "ExposedHeaders": rule["ExposeHeaders"],
        "MaxAge": rule["MaxAgeSeconds"],
    }


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
