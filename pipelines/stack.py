"""``PipelineStack``: a self-mutating CDK Pipelines pipeline for the biwoco Stage.

Source (CodeConnections, on push) -> Build (bootstrap, ``scripts/test``, synthesize with
cdk-nag, cfn-lint) -> UpdatePipeline (self-mutation) -> Assets (the one Docker image,
published to every environment's bootstrap ECR repository) -> dev (+ smoke test) ->
prod (manual approval first, then the deploy, then the smoke test).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_cdk import CfnElement, Environment, Stack
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import pipelines as cdkp
from constructs import Construct, IConstruct

from infra.config import EnvConfig
from infra.nag import acknowledge
from infra.stage import BiwocoStage
from pipelines.config import PipelineConfig
from pipelines.steps import BUILD_IMAGE, smoke_test_step, synth_step

APPROVAL_STEP_ID = "PromoteToProd"


def _cfn(construct: IConstruct) -> CfnElement:
    child = construct.node.default_child
    assert isinstance(child, CfnElement)
    return child


class PipelineStack(Stack):
    """``PipelineStack(scope, construct_id, *, config, environments, stages=None)``.

    ``environments`` maps names to :class:`EnvConfig` (from ``infra.config.load_configs``);
    the pipeline deploys ``config.dev_environment`` then ``config.prod_environment``.

    The pipeline deploys the very stages ``cdk deploy '<env>/*'`` deploys: ``stages`` (the
    app's, by environment name) or, without them, stages it adds at the app's root under the
    environment's name. Never a stage nested in this stack: the logical ids of cross-stack
    security-group rules and Lambda permissions, and the descriptions of the rotation
    functions' security groups, derive from the construct path, stage id included
    (aws/aws-cdk#30588); a stage at ``Pipeline/<env>`` would make the pipeline replace those
    resources of an environment first deployed by hand (docs/operations.md).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        environments: dict[str, EnvConfig],
        stages: Mapping[str, BiwocoStage] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("env", Environment(account=config.account, region=config.region))
        kwargs.setdefault("stack_name", config.stack_name)
        kwargs.setdefault("description", "biwoco: the git-push delivery pipeline (CDK Pipelines)")
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        dev, prod = config.environments(environments)

        self.source = cdkp.CodePipelineSource.connection(
            config.repository,
            config.branch,
            connection_arn=config.connection_arn,
            trigger_on_push=True,
            # A git clone (not a zip): the upgrade check synthesizes the baseline release
            # from the history and its release-* tags.
            code_build_clone_output=True,
        )
        self.pipeline = cdkp.CodePipeline(
            self,
            "Pipeline",
            pipeline_name=config.pipeline_name,
            pipeline_type=codepipeline.PipelineType.V2,
            synth=synth_step(config, self.source),
            self_mutation=True,
            # Stages live in other accounts: KMS-encrypted artifacts they can read.
            cross_account_keys=True,
            enable_key_rotation=True,
            # The Docker image is built by the asset-publishing step, not during synth.
            docker_enabled_for_synth=False,
            publish_assets_in_parallel=True,
            code_build_defaults=cdkp.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(
                    build_image=BUILD_IMAGE, compute_type=codebuild.ComputeType.SMALL
                ),
            ),
        )

        app = self.node.root
        assert isinstance(app, Construct)

        def stage_of(env: EnvConfig) -> BiwocoStage:
            if stages is not None and env.name in stages:
                return stages[env.name]
            return BiwocoStage(app, env.name, config=env)

        self.dev_stage = stage_of(dev)
        self.pipeline.add_stage(self.dev_stage, post=[smoke_test_step(self.dev_stage)])

        self.prod_stage = stage_of(prod)
        self.pipeline.add_stage(
            self.prod_stage,
            pre=[
                cdkp.ManualApprovalStep(
                    APPROVAL_STEP_ID,
                    comment=(
                        f"Promote to {prod.name}: {dev.name} is deployed and its smoke test "
                        "passed. Review the dev environment and the change sets, then approve."
                    ),
                )
            ],
            post=[smoke_test_step(self.prod_stage)],
        )
        # Build now (not lazily at synth) so the generated constructs exist for the
        # acknowledgements below and for tests.
        self.pipeline.build_pipeline()
        self._grant_connection_use()
        self._acknowledge_findings()

    def _grant_connection_use(self) -> None:
        """CDK grants ``codestar-connections:UseConnection`` only (to the source action, and
        to the CodeBuild projects that clone through the connection: the build, for the
        upgrade check's history); a connection created since 2024 has a ``codeconnections``
        ARN, and IAM requires the action's prefix to match the resource's, so that grant
        alone never allows it. Every role CDK grants it gets the connection's own prefix."""
        arn = self.config.connection_arn
        service = self.config.connection_service
        granted = 0
        for role in self.node.find_all():
            if not isinstance(role, iam.Role):
                continue
            policy = role.node.try_find_child("DefaultPolicy")
            if not isinstance(policy, iam.Policy):
                continue
            statements = self.resolve(policy.document).get("Statement", [])
            if any(
                "codestar-connections:UseConnection" in json.dumps(st.get("Action"))
                and st.get("Resource") == arn
                for st in statements
            ):
                role.add_to_principal_policy(
                    iam.PolicyStatement(
                        sid="UseTheSourceConnection",
                        actions=[f"{service}:UseConnection"],
                        resources=[arn],
                    )
                )
                granted += 1
        assert granted >= 2, "the source action's role and the build's"

    def _child(self, *path: str) -> IConstruct:
        node: IConstruct = self.pipeline
        for part in path:
            node = node.node.find_child(part)
        return node

    def _acknowledge_findings(self) -> None:
        """The cdk-nag findings on what CDK Pipelines generates, each with its reason.

        Every one is listed in docs/security.md (tests/pipelines/test_security_doc.py).
        """
        pipeline = self.pipeline
        inner = pipeline.pipeline
        acknowledge(
            inner.artifact_bucket,
            "AwsSolutions-S1",
            "CDK Pipelines creates the artifact bucket internally with no access-log option; "
            "it holds only transient KMS-encrypted build artifacts that the key policy lets "
            "only the pipeline's roles and the target accounts' CDK deploy roles decrypt.",
        )
        for region, support in inner.cross_region_support.items():
            acknowledge(
                support.replication_bucket,
                "AwsSolutions-S1",
                f"The {region} replication bucket of the pipeline (for the us-east-1 "
                "CloudFront WAF and certificate stack) holds only transient KMS-encrypted "
                "artifacts copied by the pipeline role; CDK offers no access-log option for it.",
            )
            # Resolved from this (other-region) stack, the name is the generated literal.
            replication_name = self.resolve(support.replication_bucket.bucket_name)
            acknowledge(
                inner.role,
                f"AwsSolutions-IAM5[Resource::arn:aws:s3:::{replication_name}/*]",
                f"The pipeline role writes artifacts under any key of its own {region} "
                "replication bucket; object keys are generated per pipeline execution.",
            )
        # Grants CDK Pipelines makes on its own artifact bucket and KMS key (grantRead /
        # grantReadWrite): the wildcards are action families and per-execution object keys
        # of that one bucket and key.
        bucket_arn = f"<{self.get_logical_id(_cfn(inner.artifact_bucket))}.Arn>"
        for finding in (
            "Action::s3:GetObject*",
            "Action::s3:GetBucket*",
            "Action::s3:List*",
            "Action::s3:DeleteObject*",
            "Action::s3:Abort*",
            f"Resource::{bucket_arn}/*",
            "Action::kms:GenerateDataKey*",
            "Action::kms:ReEncrypt*",
        ):
            acknowledge(
                pipeline,
                f"AwsSolutions-IAM5[{finding}]",
                "CDK Pipelines' read/write grants on the pipeline's own artifact bucket and "
                "its KMS key: action families and per-execution object keys of that one "
                "bucket and key, nothing else.",
            )
        # CodeBuild's standard project policy: log streams in the project's own log group
        # and report groups named after the project, both created at run time.
        # (The per-asset projects share the asset roles, acknowledged below.)
        assets = self._child("Assets")
        for project in pipeline.node.find_all():
            if isinstance(project, codebuild.CfnProject) and not project.node.path.startswith(
                assets.node.path + "/"
            ):
                logical_id = self.get_logical_id(project)
                for finding in (
                    f"Resource::arn:aws:logs:{self.region}:{self.account}:log-group:"
                    f"/aws/codebuild/<{logical_id}>:*",
                    f"Resource::arn:aws:codebuild:{self.region}:{self.account}:report-group/"
                    f"<{logical_id}>-*",
                ):
                    acknowledge(
                        pipeline,
                        f"AwsSolutions-IAM5[{finding}]",
                        "CodeBuild's standard project role policy: log streams inside the "
                        "project's own log group and report groups prefixed with the "
                        "project's name, which CodeBuild creates at run time.",
                    )
        for role_id in ("FileRole", "DockerRole"):
            role = self._child("Assets", role_id)
            for finding in (
                f"Resource::arn:aws:logs:{self.region}:{self.account}:log-group:/aws/codebuild/*",
                f"Resource::arn:aws:codebuild:{self.region}:{self.account}:report-group/*",
            ):
                acknowledge(
                    role,
                    f"AwsSolutions-IAM5[{finding}]",
                    "One asset-publishing role serves every per-asset CodeBuild project, "
                    "which CDK Pipelines creates after the role: logs and report groups of "
                    "this account's CodeBuild projects only.",
                )
            acknowledge(
                role,
                "AwsSolutions-IAM5[Resource::*]",
                "CDK Pipelines lets the shared asset-publishing role start and poll the "
                "per-asset CodeBuild builds it drives (codebuild:StartBuild/BatchGetBuilds/"
                "StopBuild); those projects are named after the role exists.",
            )
        acknowledge(
            inner.role,
            "AwsSolutions-IAM5[Resource::*]",
            "KMS actions on the us-east-1 replication bucket's key, which the pipeline can "
            "reference only through a cross-region alias (IAM cannot scope a grant to an "
            "alias); the role is assumable only by CodePipeline.",
        )
        self_mutation_role = self._child("UpdatePipeline", "SelfMutation", "Role")
        acknowledge(
            self_mutation_role,
            "AwsSolutions-IAM5[Resource::*]",
            "Self-mutation runs `cdk deploy` of this stack: cloudformation:DescribeStacks and "
            "s3:ListBucket to find the CDK bootstrap stack and its bucket, read-only.",
        )
        acknowledge(
            self_mutation_role,
            f"AwsSolutions-IAM5[Resource::arn:*:iam::{self.account}:role/*]",
            "Self-mutation assumes the CDK bootstrap roles of the pipeline account; the "
            "statement is conditioned on the aws-cdk:bootstrap-role tag (deploy, "
            "file-publishing, image-publishing), so no other role qualifies.",
        )

    @property
    def stages(self) -> tuple[BiwocoStage, BiwocoStage]:
        return (self.dev_stage, self.prod_stage)
