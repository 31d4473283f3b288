"""Data: the access-log bucket (S3 server access logs, ALB and CloudFront access logs)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import EnvConfig
from infra.nag import acknowledge


class LogsBucket(Construct):
    """One bucket receives every access log of the environment, under its own prefix.

    It is SSE-S3 (ALB and S3 server access logging cannot write to SSE-KMS buckets) and
    keeps ACLs enabled with ``BucketOwnerPreferred`` because CloudFront standard logging
    delivers through the ``awslogsdelivery`` ACL grant.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvConfig) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            versioned=False,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(config.observability.log_retention_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=config.removal_policy,
            auto_delete_objects=False,
        )
        acknowledge(
            self.bucket,
            "AwsSolutions-S1",
            "This bucket is the access-log destination itself; logging its own access "
            "to itself would recurse, and its writers are AWS log-delivery services.",
        )
