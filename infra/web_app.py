"""Edge (regional part): the web app's private bucket, how CloudFront serves it, and its deployment.

The distribution's default behaviour serves the app (``web/dist``, built once by the pipeline's
synth step) from this bucket through origin access control: compressed, hashed assets cached for
a year, ``index.html`` revalidated on every request, and a viewer-request function that answers
every extension-less path of the default behaviour (a page of the app) with ``/index.html``.
``/api/*`` and ``/healthz/*`` are other behaviours (the ALB), which the function never sees, so an
API 404 stays the API's problem+json.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aws_cdk import Annotations, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from infra.config import REPO_ROOT, EnvConfig
from infra.nag import acknowledge
from infra.private_bucket import private_bucket
from service.core.web_policy import content_security_policy

WEB_DIST = REPO_ROOT / "web" / "dist"
# Synthesis without a built app (unit tests, a first `cdk synth`) deploys this page instead.
PLACEHOLDER = REPO_ROOT / "infra" / "web_placeholder"
INDEX = "index.html"
ASSETS_CACHE_CONTROL = "public, max-age=31536000, immutable"
INDEX_CACHE_CONTROL = "no-cache"

SPA_ROUTING_FUNCTION = """\
function handler(event) {
  var request = event.request;
  var name = request.uri.substring(request.uri.lastIndexOf('/') + 1);
  if (name.indexOf('.') === -1) {
    request.uri = '/index.html';
  }
  return request;
}
"""


def web_app_dist() -> Path:
    """The built app when there is one, else the placeholder page."""
    return WEB_DIST if (WEB_DIST / INDEX).is_file() else PLACEHOLDER


class WebApp(Construct):
    """The bucket, the origin, the cache and headers policies and the routing function; call
    :meth:`deploy` with the distribution once it exists."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvConfig,
        access_logs: s3.IBucket,
        uploads_origins: Sequence[str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        # Its content is rebuilt from git at every deploy: the bucket goes with the stack.
        self.bucket = private_bucket(
            self,
            "Bucket",
            access_logs=access_logs,
            access_log_prefix=f"s3/{config.prefix}-web/",
            abort_multipart_after=Duration.days(1),
            encryption=s3.BucketEncryption.S3_MANAGED,
            versioned=False,
            removal_policy=RemovalPolicy.DESTROY,
            auto_delete_objects=True,
        )
        # Read and list: a missing asset is a 404, not S3's 403 (nothing here is secret, and
        # the cache policy forwards no query string, so nobody can list through CloudFront).
        self.origin = origins.S3BucketOrigin.with_origin_access_control(
            self.bucket,
            origin_access_levels=[cloudfront.AccessLevel.READ, cloudfront.AccessLevel.LIST],
        )
        # Honour the objects' Cache-Control (min 0 s: `no-cache` is never served stale); the
        # key is the path and the encoding, nothing the viewer could vary.
        self.cache_policy = cloudfront.CachePolicy(
            self,
            "CachePolicy",
            cache_policy_name=f"{config.prefix}-web",
            comment=f"{config.prefix}: the web app, by its objects' Cache-Control",
            min_ttl=Duration.seconds(0),
            default_ttl=Duration.days(1),
            max_ttl=Duration.days(365),
            enable_accept_encoding_gzip=True,
            enable_accept_encoding_brotli=True,
            header_behavior=cloudfront.CacheHeaderBehavior.none(),
            cookie_behavior=cloudfront.CacheCookieBehavior.none(),
            query_string_behavior=cloudfront.CacheQueryStringBehavior.none(),
        )
        self.headers_policy = cloudfront.ResponseHeadersPolicy(
            self,
            "HeadersPolicy",
            response_headers_policy_name=f"{config.prefix}-web",
            comment=f"{config.prefix}: security headers of the web app",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(730),
                    include_subdomains=True,
                    override=True,
                ),
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=content_security_policy(uploads_origins),
                    override=True,
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN,
                    override=True,
                ),
            ),
        )
        self.routing = cloudfront.Function(
            self,
            "SpaRouting",
            function_name=f"{config.prefix}-web-spa-routing",
            comment="Pages of the web app (extension-less paths) are /index.html",
            code=cloudfront.FunctionCode.from_inline(SPA_ROUTING_FUNCTION),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
        )

    def behavior(self) -> cloudfront.BehaviorOptions:
        return cloudfront.BehaviorOptions(
            origin=self.origin,
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
            cached_methods=cloudfront.CachedMethods.CACHE_GET_HEAD,
            cache_policy=self.cache_policy,
            response_headers_policy=self.headers_policy,
            compress=True,
            function_associations=[
                cloudfront.FunctionAssociation(
                    function=self.routing,
                    event_type=cloudfront.FunctionEventType.VIEWER_REQUEST,
                )
            ],
        )

    def deploy(self, distribution: cloudfront.IDistribution, source: Path) -> None:
        """Hashed assets first, then ``index.html`` (which names them), then one invalidation
        of ``/index.html``. Nothing is pruned: a browser holding the previous ``index.html``
        still finds the assets it names."""
        if source == PLACEHOLDER:
            Annotations.of(self).add_warning_v2(
                "biwoco:web-app-not-built",
                "web/dist is not built: the placeholder page is deployed (run `scripts/web build`)",
            )
        assets = s3deploy.BucketDeployment(
            self,
            "Assets",
            destination_bucket=self.bucket,
            sources=[s3deploy.Source.asset(str(source), exclude=[INDEX])],
            cache_control=[s3deploy.CacheControl.from_string(ASSETS_CACHE_CONTROL)],
            prune=False,
            memory_limit=512,
        )
        index = s3deploy.BucketDeployment(
            self,
            "Index",
            destination_bucket=self.bucket,
            sources=[s3deploy.Source.asset(str(source), exclude=["*", f"!{INDEX}"])],
            cache_control=[s3deploy.CacheControl.from_string(INDEX_CACHE_CONTROL)],
            prune=False,
            memory_limit=512,
            distribution=distribution,
            distribution_paths=[f"/{INDEX}"],
        )
        index.node.add_dependency(assets)
        self.deployments = (assets, index)
        self._acknowledge_deployment_handler()

    def _acknowledge_deployment_handler(self) -> None:
        """The deployment's Lambda (one per stack, built by aws-cdk-lib) and its role."""
        stack = Stack.of(self)
        (handler,) = (
            child
            for child in stack.node.children
            if child.node.id.startswith("Custom::CDKBucketDeployment")
        )
        bucket_id = stack.resolve(stack.get_logical_id(self.bucket.node.default_child))  # type: ignore[arg-type]
        account = self.config.account or "<AWS::AccountId>"
        staging = f"arn:aws:s3:::cdk-hnb659fds-assets-{account}-{self.config.region}/*"
        acknowledge(
            handler,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaBasicExecutionRole]",
            "The web app's deployment function (aws-cdk-lib's BucketDeployment) writes its "
            "own logs through the AWS managed basic execution policy; it runs only at deploy time.",
        )
        for finding in (
            "Action::s3:Abort*",
            "Action::s3:DeleteObject*",
            "Action::s3:GetBucket*",
            "Action::s3:GetObject*",
            "Action::s3:List*",
            f"Resource::<{bucket_id}.Arn>/*",
            f"Resource::{staging}",
        ):
            acknowledge(
                handler,
                f"AwsSolutions-IAM5[{finding}]",
                "BucketDeployment copies the built web app from the CDK asset staging bucket "
                "into the web app bucket: read on the staging objects, write on the web "
                "bucket's objects, granted by aws-cdk-lib on exactly those two buckets.",
            )
        acknowledge(
            handler,
            "AwsSolutions-IAM5[Resource::*]",
            "BucketDeployment creates and waits for the CloudFront invalidation of /index.html; "
            "aws-cdk-lib grants cloudfront:CreateInvalidation and GetInvalidation on '*'.",
        )
        acknowledge(
            handler,
            "AwsSolutions-L1",
            "The runtime of BucketDeployment's function is chosen and bundled by aws-cdk-lib "
            "(with its AWS CLI layer); it moves forward with aws-cdk-lib upgrades, not here.",
        )
