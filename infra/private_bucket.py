"""A private S3 bucket as every bucket of the platform that holds content starts: no public
access, bucket-owner objects, TLS 1.2+ only, access-logged, incomplete multipart uploads aborted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_s3 as s3
from constructs import Construct


def private_bucket(
    scope: Construct,
    construct_id: str,
    *,
    access_logs: s3.IBucket,
    access_log_prefix: str,
    abort_multipart_after: Duration,
    lifecycle_rules: Sequence[s3.LifecycleRule] = (),
    **props: Any,
) -> s3.Bucket:
    """The bucket with the shared hardening; `props` add what differs (encryption, versions,
    removal). The access-log bucket itself is not one of these (it cannot log to itself)."""
    return s3.Bucket(
        scope,
        construct_id,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        enforce_ssl=True,
        minimum_tls_version=1.2,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=access_log_prefix,
        lifecycle_rules=[
            s3.LifecycleRule(
                id="abort-incomplete-multipart-uploads",
                abort_incomplete_multipart_upload_after=abort_multipart_after,
            ),
            *lifecycle_rules,
        ],
        **props,
    )
