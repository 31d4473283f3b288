"""Data: the uploads bucket the service writes through presigned POSTs."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra.config import EnvConfig
from infra.nag import acknowledge
from infra.private_bucket import private_bucket
from infra.uploads_cors import uploads_cors_rules

UPLOADS_PREFIX = "uploads/"
_SDK_CALL_FUNCTION_ID = "AWS679f53fac002430cb0da5b7982bd2287"  # AwsCustomResource's singleton


class Uploads(Construct):
    """Private, SSE-KMS (bucket key), SSL-only, versioned, access-logged. Its CORS rules name
    the web app's origin, which only the service stack knows (the distribution's domain):
    :class:`UploadsCors` puts them there."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvConfig,
        access_logs: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        removal = config.removal_policy
        self.key = kms.Key(
            self,
            "Key",
            alias=f"alias/{config.prefix}/uploads",
            description=f"{config.prefix}: SSE-KMS key of the uploads bucket",
            enable_key_rotation=True,
            removal_policy=removal,
        )
        # A deterministic name (prefix-account-region) lets the service stack scope its
        # policy to the uploads prefix without a cross-stack export of the bucket ARN.
        account = config.account or Aws.ACCOUNT_ID
        self.bucket_name = f"{config.prefix}-uploads-{account}-{config.region}"
        self.objects_arn = f"arn:{Aws.PARTITION}:s3:::{self.bucket_name}/{UPLOADS_PREFIX}*"
        # Where the browser posts and reads (the URLs the service presigns: the regional
        # endpoint, and in us-east-1 the global one): the app's content security policy.
        self.browser_origins = [f"https://{self.bucket_name}.s3.{config.region}.amazonaws.com"]
        if config.region == "us-east-1":
            self.browser_origins.append(f"https://{self.bucket_name}.s3.amazonaws.com")
        self.bucket = private_bucket(
            self,
            "Bucket",
            access_logs=access_logs,
            access_log_prefix=f"s3/{config.prefix}-uploads/",
            abort_multipart_after=Duration.days(config.uploads.abort_incomplete_multipart_days),
            bucket_name=self.bucket_name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-noncurrent-versions",
                    noncurrent_version_expiration=Duration.days(
                        config.uploads.noncurrent_version_expiration_days
                    ),
                    expired_object_delete_marker=True,
                ),
            ],
            removal_policy=removal,
        )
        # Uploads must be encrypted with this bucket's key: a presigned POST that asks
        # for another key (or for SSE-S3) is refused.
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DenyWrongKmsKey",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject"],
                resources=[self.bucket.arn_for_objects("*")],
                conditions={
                    "StringNotEqualsIfExists": {
                        "s3:x-amz-server-side-encryption-aws-kms-key-id": self.key.key_arn
                    }
                },
            )
        )

    def grant_service_access(self, grantee: iam.IGrantable) -> None:
        """Exactly what the service needs on its prefix: presigned POST (PutObject), HEAD
        and GET (GetObject), delete (DeleteObject), plus the bucket key for SSE-KMS."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid="UploadsObjects",
                actions=["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
                resources=[self.objects_arn],
            )
        )
        account = self.config.account or "<AWS::AccountId>"
        acknowledge(
            grantee.grant_principal,  # type: ignore[arg-type]
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{self.config.prefix}"
            f"-uploads-{account}-{self.config.region}/{UPLOADS_PREFIX}*]",
            "Object keys are uploads/{user_id}/{file_id}, created at run time: the service "
            "gets Put/Get/Delete on that prefix of its own bucket only, nothing bucket-wide.",
        )
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid="UploadsKey",
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[self.key.key_arn],
            )
        )


class UploadsCors(Construct):
    """The uploads bucket's CORS rules (infra/uploads_cors.py, the local stack's too) for the web
    app's origins: the distribution's URL, which exists only once the service stack creates the
    distribution (a *.cloudfront.net name without a custom domain), and ``cors_origins``.

    The data stack cannot name it (it deploys first), so this construct in the service stack
    owns the bucket's CORS configuration: PutBucketCors on create and on every change of the
    origins, DeleteBucketCors when the service stack goes. The bucket's template leaves CORS
    unset, so a data-stack update never touches it."""

    def __init__(
        self, scope: Construct, construct_id: str, *, uploads: Uploads, origins: Sequence[str]
    ) -> None:
        super().__init__(scope, construct_id)
        unique = list(dict.fromkeys(origins))
        self.rules = uploads_cors_rules(unique)
        put = cr.AwsSdkCall(
            service="S3",
            action="putBucketCors",
            parameters={
                "Bucket": uploads.bucket_name,
                "CORSConfiguration": {"CORSRules": self.rules},
            },
            physical_resource_id=cr.PhysicalResourceId.of(f"{uploads.bucket_name}-cors"),
        )
        self.resource = cr.AwsCustomResource(
            self,
            "Rules",
            resource_type="Custom::UploadsCors",
            on_create=put,
            on_update=put,
            on_delete=cr.AwsSdkCall(
                service="S3", action="deleteBucketCors", parameters={"Bucket": uploads.bucket_name}
            ),
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        # PutBucketCors and DeleteBucketCors are both s3:PutBucketCORS.
                        actions=["s3:PutBucketCORS"],
                        resources=[f"arn:{Aws.PARTITION}:s3:::{uploads.bucket_name}"],
                    )
                ]
            ),
            install_latest_aws_sdk=False,
        )
        # The SDK-call function aws-cdk-lib keeps once per stack.
        handler = Stack.of(self).node.find_child(_SDK_CALL_FUNCTION_ID)
        acknowledge(
            handler,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaBasicExecutionRole]",
            "aws-cdk-lib's AwsCustomResource function (it puts the uploads bucket's CORS rules at "
            "deploy time) writes its own logs through the AWS managed basic execution policy.",
        )
