"""Architecture diagrams drawn from code with the ``diagrams`` package (Graphviz's ``dot``).

CLI (from the repository root)::

    python scripts/diagrams.py                 # renders docs/img/serverless-reference.png
                                               # and docs/img/platform.png
    python scripts/diagrams.py --outdir /tmp/x # somewhere else (the tests do this)

Every AWS node of the platform diagram is drawn from :data:`PLATFORM_AWS_NODES`, which also
names the CloudFormation resource type(s) each node stands for; a test synthesizes the CDK
app and checks that each of those types is in some template, so the picture cannot name a
service the infrastructure does not deploy. Nodes that are not AWS services (the clients,
Sentry, the SMTP relay) have ids starting with ``ext_``.

Node ids are fixed (the ``diagrams`` package would otherwise use random UUIDs) so the dot
source, and with the same Graphviz and fonts the PNG bytes, are the same on every run.
Graphviz comes from Debian (``apt-get install -y graphviz``); ``scripts/bootstrap`` installs
it when it is missing and runs as root.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parent.parent
SCRIPTS_DIR: Final = ROOT / "scripts"
IMG_DIR: Final = ROOT / "docs" / "img"

SERVERLESS_REFERENCE: Final = "serverless-reference"
PLATFORM: Final = "platform"
DIAGRAM_NAMES: Final = (SERVERLESS_REFERENCE, PLATFORM)

EXTERNAL_PREFIX: Final = "ext_"


@dataclass(frozen=True)
class AwsNode:
    """One AWS service in the platform diagram.

    ``icon`` is ``<module>.<class>`` under ``diagrams.aws``; ``resource_types`` are the
    CloudFormation types the node stands for, each of which must appear in a synthesized
    template.
    """

    label: str
    icon: str
    resource_types: tuple[str, ...]


# Every AWS service named in docs/img/platform.png, by node id.
PLATFORM_AWS_NODES: Final[Mapping[str, AwsNode]] = {
    "cognito": AwsNode(
        "Cognito user pool\n(hosted sign-in, PKCE)",
        "security.Cognito",
        (
            "AWS::Cognito::UserPool",
            "AWS::Cognito::UserPoolClient",
            "AWS::Cognito::UserPoolDomain",
        ),
    ),
    "waf": AwsNode(
        "WAF web ACL\n(managed rules, rate limit)",
        "security.WAF",
        ("AWS::WAFv2::WebACL", "AWS::WAFv2::LoggingConfiguration"),
    ),
    "cloudfront": AwsNode(
        "CloudFront\n(no caching, HTTPS only)",
        "network.CloudFront",
        ("AWS::CloudFront::Distribution", "AWS::CloudFront::VpcOrigin"),
    ),
    "nat": AwsNode(
        "NAT gateway\n(1 dev, 1 per AZ prod)", "network.NATGateway", ("AWS::EC2::NatGateway",)
    ),
    "alb": AwsNode(
        "internal ALB",
        "network.ElbApplicationLoadBalancer",
        (
            "AWS::ElasticLoadBalancingV2::LoadBalancer",
            "AWS::ElasticLoadBalancingV2::Listener",
            "AWS::ElasticLoadBalancingV2::TargetGroup",
        ),
    ),
    "api": AwsNode(
        "api: FastAPI\n(Fargate, 1-3 dev / 2-10 prod)",
        "compute.Fargate",
        ("AWS::ECS::Cluster", "AWS::ECS::Service", "AWS::ECS::TaskDefinition"),
    ),
    "worker": AwsNode(
        "worker: Celery\n(Fargate, scaled on backlog)",
        "compute.Fargate",
        ("AWS::ECS::Service", "AWS::ECS::TaskDefinition"),
    ),
    "beat": AwsNode(
        "beat: Celery\n(Fargate, exactly 1)",
        "compute.Fargate",
        ("AWS::ECS::Service", "AWS::ECS::TaskDefinition"),
    ),
    "autoscaling": AwsNode(
        "Application Auto Scaling",
        "compute.ApplicationAutoScaling",
        (
            "AWS::ApplicationAutoScaling::ScalableTarget",
            "AWS::ApplicationAutoScaling::ScalingPolicy",
        ),
    ),
    "documentdb": AwsNode(
        "DocumentDB 5.0\n(TLS, KMS)",
        "database.DocumentDB",
        ("AWS::DocDB::DBCluster", "AWS::DocDB::DBInstance"),
    ),
    "cache": AwsNode(
        "ElastiCache (Valkey)\ncache + Celery broker",
        "database.ElastiCache",
        ("AWS::ElastiCache::ReplicationGroup",),
    ),
    "s3": AwsNode(
        "S3 uploads bucket\n(SSE-KMS, versioned)",
        "storage.SimpleStorageServiceS3",
        ("AWS::S3::Bucket", "AWS::S3::BucketPolicy"),
    ),
    "secrets": AwsNode(
        "Secrets Manager\n(DB, cache, JWT, Sentry)",
        "security.SecretsManager",
        ("AWS::SecretsManager::Secret", "AWS::SecretsManager::RotationSchedule"),
    ),
    "kms": AwsNode("KMS keys", "security.KMS", ("AWS::KMS::Key",)),
    "iam": AwsNode("IAM task role", "security.IAMRole", ("AWS::IAM::Role", "AWS::IAM::Policy")),
    "cloudwatch": AwsNode(
        "CloudWatch\nlogs, metrics, alarms, dashboard",
        "management.Cloudwatch",
        ("AWS::Logs::LogGroup", "AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard"),
    ),
    "sns": AwsNode("SNS alarm topic", "integration.SNS", ("AWS::SNS::Topic",)),
    "codepipeline": AwsNode(
        "CodePipeline (CDK Pipelines)\ndev -> approval -> prod",
        "devtools.Codepipeline",
        ("AWS::CodePipeline::Pipeline",),
    ),
    "codebuild": AwsNode(
        "CodeBuild\nscripts/test, synth, cfn-lint",
        "devtools.Codebuild",
        ("AWS::CodeBuild::Project",),
    ),
}

# The request path is drawn bold and numbered; everything else is thin.
REQUEST = {"color": "#1F6FB2", "penwidth": "2.2", "fontcolor": "#1F6FB2"}
JOB = {"color": "#B35900", "penwidth": "1.8", "fontcolor": "#B35900"}
SIDE = {"color": "#7B8894", "style": "dashed", "fontcolor": "#55606B"}

GRAPH_ATTR: Final = {
    "splines": "spline",
    "fontsize": "22",
    "pad": "0.4",
    "nodesep": "0.55",
    "ranksep": "1.1",
    "dpi": "96",
    "labelloc": "t",
}
EDGE_ATTR: Final = {"fontsize": "12"}


class GraphvizMissingError(RuntimeError):
    """Graphviz's ``dot`` is not on PATH."""


def _diagrams() -> Any:
    """Import the ``diagrams`` package, not this file.

    Run as ``python scripts/diagrams.py``, Python puts ``scripts/`` first on ``sys.path``,
    where this very module would shadow the package of the same name.
    """
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != SCRIPTS_DIR]
    module = sys.modules.get("diagrams")
    if (
        module is not None
        and Path(getattr(module, "__file__", "") or "").resolve() == Path(__file__).resolve()
    ):
        del sys.modules["diagrams"]
    return import_module("diagrams")


def _icon(dotted: str) -> Any:
    module, _, cls = dotted.rpartition(".")
    return getattr(import_module(f"diagrams.aws.{module}"), cls)


def require_dot() -> str:
    found = shutil.which("dot")
    if found is None:
        raise GraphvizMissingError(
            "Graphviz's `dot` is not installed: run scripts/bootstrap as root, or "
            "`sudo apt-get install -y graphviz` (macOS: `brew install graphviz`)"
        )
    return found


@contextmanager
def _diagram(name: str, title: str, outdir: Path) -> Iterator[Any]:
    d = _diagrams()
    with d.Diagram(
        title,
        filename=str(outdir / name),
        direction="LR",
        curvestyle="curved",
        outformat="png",
        show=False,
        graph_attr=dict(GRAPH_ATTR),
        edge_attr=dict(EDGE_ATTR),
    ) as diagram:
        yield diagram


def _edge(label: str, style: Mapping[str, str]) -> Any:
    return _diagrams().Edge(label=label, **style)


def render_serverless_reference(outdir: Path) -> str:
    """AWS's serverless web/mobile reference: its four concerns and one request.

    Writes ``<outdir>/serverless-reference.png``; returns the Graphviz source.
    """
    d = _diagrams()
    from diagrams.aws.compute import Lambda
    from diagrams.aws.database import Dynamodb
    from diagrams.aws.devtools import (
        Codebuild,
        Codecommit,
        Codepipeline,
    )
    from diagrams.aws.general import Users
    from diagrams.aws.management import (
        Cloudformation,
        Cloudwatch,
    )
    from diagrams.aws.network import APIGateway, CloudFront
    from diagrams.aws.security import Cognito, IAMRole
    from diagrams.aws.storage import SimpleStorageServiceS3

    title = "AWS serverless web/mobile reference architecture"
    with _diagram(SERVERLESS_REFERENCE, title, outdir) as diagram:
        clients = Users("Mobile / web clients", nodeid="ext_clients")
        with d.Cluster("Authentication and authorization"):
            cognito = Cognito("Cognito user pool", nodeid="cognito")
            iam = IAMRole("IAM execution roles", nodeid="iam")
        with d.Cluster("Business logic"):
            apigw = APIGateway("API Gateway\n(Cognito authorizer)", nodeid="apigw")
            fn = Lambda("Lambda functions", nodeid="lambda")
        with d.Cluster("Data storage"):
            table = Dynamodb("DynamoDB tables", nodeid="dynamodb")
            bucket = SimpleStorageServiceS3("S3 (assets, uploads)", nodeid="s3")
        cdn = CloudFront("CloudFront\n(static web app)", nodeid="cloudfront")
        with d.Cluster("CI/CD"):
            repo = Codecommit("source repository", nodeid="source")
            pipeline = Codepipeline("CodePipeline", nodeid="codepipeline")
            build = Codebuild("CodeBuild\n(test, sam build)", nodeid="codebuild")
            cfn = Cloudformation("CloudFormation / SAM", nodeid="cloudformation")
        watch = Cloudwatch("CloudWatch\nlogs, metrics, alarms", nodeid="cloudwatch")

        clients >> _edge("1 sign in -> JWT", REQUEST) >> cognito
        clients >> _edge("2 HTTPS + JWT", REQUEST) >> apigw
        apigw >> _edge("3 authorizer checks JWT", REQUEST) >> cognito
        apigw >> _edge("4 invoke", REQUEST) >> fn
        fn >> _edge("5 read / write", REQUEST) >> table
        fn >> _edge("6 objects / presigned URL", REQUEST) >> bucket
        clients >> _edge("web app", SIDE) >> cdn
        cdn >> _edge("origin", SIDE) >> bucket
        iam >> _edge("least privilege", SIDE) >> fn
        fn >> _edge("logs, metrics", SIDE) >> watch
        apigw >> _edge("access logs", SIDE) >> watch
        repo >> _edge("push", SIDE) >> pipeline >> _edge("", SIDE) >> build
        build >> _edge("deploy", SIDE) >> cfn
        cfn >> _edge("creates", SIDE) >> apigw
    return str(diagram)


def _platform_node(key: str) -> Any:
    node = PLATFORM_AWS_NODES[key]
    return _icon(node.icon)(node.label, nodeid=key)


def render_platform(outdir: Path) -> str:
    """This platform: CloudFront + WAF -> internal ALB -> FastAPI/Celery on Fargate ->
    DocumentDB, ElastiCache and S3, with Cognito tokens accepted by the API.

    Writes ``<outdir>/platform.png``; returns the Graphviz source.
    """
    d = _diagrams()
    from diagrams.aws.general import Users
    from diagrams.onprem.network import Internet
    from diagrams.onprem.vcs import Git

    n = _platform_node
    title = "biwoco on AWS (one environment, one region)"
    with _diagram(PLATFORM, title, outdir) as diagram:
        clients = Users("Mobile / web clients", nodeid="ext_clients")
        cognito = n("cognito")
        with d.Cluster("Edge (global)"):
            waf = n("waf")
            cdn = n("cloudfront")
        with d.Cluster("VPC (2 AZs dev, 3 AZs prod)"):
            with d.Cluster("public subnets"):
                nat = n("nat")
            with d.Cluster("app subnets (private, egress via NAT)"):
                alb = n("alb")
                with d.Cluster("ECS cluster: one image, three services"):
                    api = n("api")
                    worker = n("worker")
                    beat = n("beat")
            with d.Cluster("data subnets (isolated, no route out)"):
                docdb = n("documentdb")
                cache = n("cache")
        s3 = n("s3")
        with d.Cluster("Security and operations"):
            secrets = n("secrets")
            kms = n("kms")
            iam = n("iam")
            scaling = n("autoscaling")
            watch = n("cloudwatch")
            sns = n("sns")
        with d.Cluster("Delivery (pipeline account)"):
            pipeline = n("codepipeline")
            build = n("codebuild")
        repo = Git("git repository", nodeid="ext_git")
        outside = Internet("internet: SMTP relay,\nSentry, Cognito JWKS", nodeid="ext_internet")

        # One request.
        clients >> _edge("1 sign in (code + PKCE) -> tokens", REQUEST) >> cognito
        clients >> _edge("2 HTTPS + Bearer token", REQUEST) >> cdn
        waf >> _edge("inspects", SIDE) >> cdn
        cdn >> _edge("3 VPC origin (not cached)", REQUEST) >> alb
        alb >> _edge("4 HTTP :8000", REQUEST) >> api
        api >> _edge("5 token check, cache hit?", REQUEST) >> cache
        api >> _edge("6 read / write (TLS)", REQUEST) >> docdb
        api >> _edge("7 presigned POST / GET", REQUEST) >> s3
        clients >> _edge("8 upload bytes (presigned POST)", REQUEST) >> s3

        # One background job.
        api >> _edge("a enqueue", JOB) >> cache
        beat >> _edge("schedule", JOB) >> cache
        cache >> _edge("b deliver task", JOB) >> worker
        worker >> _edge("c reload by id", JOB) >> docdb
        worker >> _edge("d process object", JOB) >> s3

        # Around it. Arrows that point back (<<) keep the security and operations services
        # to the right of what they serve, so the request path reads left to right.
        api >> _edge("egress", SIDE) >> nat
        worker >> _edge("egress", SIDE) >> nat
        nat >> _edge("", SIDE) >> outside
        api << _edge("secrets= at task start", SIDE) << secrets
        docdb << _edge("encrypts", SIDE) << kms
        worker << _edge("task role: S3 prefix, metric namespace", SIDE) << iam
        worker >> _edge("logs, queue-depth metric", SIDE) >> watch
        watch >> _edge("backlog, CPU, requests/target", SIDE) >> scaling
        api << _edge("task count", SIDE) << scaling
        watch >> _edge("alarms", SIDE) >> sns

        # Delivery.
        repo >> _edge("git push", SIDE) >> pipeline
        pipeline >> _edge("test, synth", SIDE) >> build
        pipeline >> _edge("deploy the Stage", SIDE) >> alb
    return str(diagram)


RENDERERS: Final = {
    SERVERLESS_REFERENCE: render_serverless_reference,
    PLATFORM: render_platform,
}


def render_all(outdir: Path = IMG_DIR) -> list[Path]:
    """Render every diagram into ``outdir``; returns the PNG paths."""
    require_dot()
    outdir.mkdir(parents=True, exist_ok=True)
    for render in RENDERERS.values():
        render(outdir)
    return [outdir / f"{name}.png" for name in DIAGRAM_NAMES]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--outdir", type=Path, default=IMG_DIR, help="default: docs/img")
    args = parser.parse_args(argv)
    try:
        written = render_all(args.outdir.resolve())
    except GraphvizMissingError as exc:
        print(f"diagrams: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
