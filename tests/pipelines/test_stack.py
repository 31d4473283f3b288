"""The synthesized pipeline: stage order, build step, source, approval, assets, keys."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match

from pipelines.stack import APPROVAL_STEP_ID
from pipelines.steps import (
    CFN_LINT_COMMAND,
    INSTALL_COMMAND,
    READINESS_PATH,
    SYNTH_COMMAND,
    TEST_COMMAND,
    UPGRADE_CHECK_COMMAND,
    WEB_BUILD_COMMAND,
)
from tests.pipelines.conftest import PipelineSynth, resources_of

STACKS_PER_ENV = 5  # network, data, auth, edge firewall (us-east-1), service


def _run_order(action: dict[str, Any]) -> int:
    order = action.get("RunOrder", 1)
    assert isinstance(order, int)
    return order


def _phase(stage: str, action: dict[str, Any]) -> str:
    type_id = action["ActionTypeId"]
    if type_id["Category"] == "Source":
        return "source"
    if stage == "Build":
        return "build/synth"
    if stage == "UpdatePipeline":
        return "self-update"
    if stage == "Assets":
        return "assets"
    if type_id["Category"] == "Approval":
        return "approval"
    if type_id["Provider"] == "CloudFormation":
        return f"{stage} deploy"
    if action["Name"] == "SmokeTest":
        return f"{stage} smoke test"
    raise AssertionError(f"unexpected action {action['Name']} in {stage}")


def test_stages_run_in_the_issue_order(pipeline_synth: PipelineSynth) -> None:
    """Stage by stage and run order by run order, never two kinds of action at once."""
    phases: list[str] = []
    for stage in pipeline_synth.stages():
        for order in sorted({_run_order(a) for a in stage["Actions"]}):
            kinds = {_phase(stage["Name"], a) for a in stage["Actions"] if _run_order(a) == order}
            assert len(kinds) == 1, f"{stage['Name']} run order {order} mixes {kinds}"
            (kind,) = kinds
            if not phases or phases[-1] != kind:
                phases.append(kind)
    assert phases == [
        "source",
        "build/synth",
        "self-update",
        "assets",
        "dev deploy",
        "dev smoke test",
        "approval",
        "prod deploy",
        "prod smoke test",
    ]
    names = [s["Name"] for s in pipeline_synth.stages()]
    assert names == ["Source", "Build", "UpdatePipeline", "Assets", "dev", "prod"]


def test_approval_sits_before_every_prod_action(pipeline_synth: PipelineSynth) -> None:
    actions = pipeline_synth.stage("prod")["Actions"]
    approvals = [a for a in actions if a["ActionTypeId"]["Category"] == "Approval"]
    assert [a["Name"] for a in approvals] == [APPROVAL_STEP_ID]
    assert approvals[0]["ActionTypeId"]["Provider"] == "Manual"
    others = [a for a in actions if a is not approvals[0]]
    # Change-set creation (".Prepare") counts: nothing touches prod before the approval.
    assert len([a for a in others if a["Name"].endswith(".Prepare")]) == STACKS_PER_ENV
    assert len([a for a in others if a["Name"].endswith(".Deploy")]) == STACKS_PER_ENV
    assert all(_run_order(a) > _run_order(approvals[0]) for a in others)
    # ...and dev has no approval at all: it deploys on every push.
    dev = pipeline_synth.stage("dev")["Actions"]
    assert not [a for a in dev if a["ActionTypeId"]["Category"] == "Approval"]
    assert min(_run_order(a) for a in dev) == 1


def test_each_environment_deploys_into_its_own_account(pipeline_synth: PipelineSynth) -> None:
    accounts = {"dev": "111111111111", "prod": "222222222222"}
    for env, account in accounts.items():
        deploys = [
            a
            for a in pipeline_synth.stage(env)["Actions"]
            if a["ActionTypeId"]["Provider"] == "CloudFormation"
        ]
        stack_names = {a["Configuration"]["StackName"] for a in deploys}
        assert stack_names == {
            f"biwoco-{env}-{s}" for s in ("network", "data", "auth", "edgefirewall", "service")
        }
        for action in deploys:
            role = json.dumps(action["RoleArn"])
            assert f":iam::{account}:role/cdk-" in role, action["Name"]
        # The CloudFront WAF and certificate stack runs in us-east-1.
        assert {a.get("Region") for a in deploys if "edgefirewall" in a["Name"]} == {"us-east-1"}


def test_smoke_tests_follow_the_deploy_and_call_readiness(pipeline_synth: PipelineSynth) -> None:
    for env in ("dev", "prod"):
        actions = pipeline_synth.stage(env)["Actions"]
        (smoke,) = [a for a in actions if a["Name"] == "SmokeTest"]
        assert all(_run_order(smoke) > _run_order(a) for a in actions if a is not smoke)
        # API_URL is the Service stack's ApiUrl output (the CloudFront URL), read from the
        # variables namespace of that stack's deploy action.
        (service_deploy,) = [a for a in actions if a["Name"] == f"biwoco-{env}-service.Deploy"]
        variables = json.loads(smoke["Configuration"]["EnvironmentVariables"])
        assert {
            "name": "API_URL",
            "type": "PLAINTEXT",
            "value": f"#{{{service_deploy['Namespace']}.ApiUrl}}",
        } in variables
        commands = pipeline_synth.buildspec(smoke)["phases"]["build"]["commands"]
        (curl,) = commands
        assert curl.startswith("curl --fail")
        assert f'"${{API_URL%/}}{READINESS_PATH}"' in curl
        assert "--retry 20" in curl
        assert "--retry-all-errors" in curl


def test_source_is_the_configured_connection_on_push(pipeline_synth: PipelineSynth) -> None:
    config = pipeline_synth.config
    (source,) = pipeline_synth.stage("Source")["Actions"]
    assert source["ActionTypeId"] == {
        "Category": "Source",
        "Owner": "AWS",
        "Provider": "CodeStarSourceConnection",
        "Version": "1",
    }
    assert source["Configuration"] == {
        "ConnectionArn": config.connection_arn,
        "FullRepositoryId": config.repository,
        "BranchName": config.branch,
        "DetectChanges": True,  # a push starts the pipeline
        # A git clone for CodeBuild: the upgrade check reads the baseline from the history.
        "OutputArtifactFormat": "CODEBUILD_CLONE_REF",
    }
    assert (config.repository, config.branch) == ("biwoco/biwoco", "main")


def test_build_step_tests_synthesizes_and_lints(pipeline_synth: PipelineSynth) -> None:
    (synth,) = pipeline_synth.stage("Build")["Actions"]
    spec = pipeline_synth.buildspec(synth)
    assert spec["phases"]["install"]["commands"] == [INSTALL_COMMAND]
    assert spec["phases"]["install"]["runtime-versions"] == {"python": "3.12", "java": "corretto17"}
    # Exactly the README's test command, then the synthesis (cdk-nag fails it), then
    # cfn-lint over what was synthesized.
    assert spec["phases"]["build"]["commands"] == [
        WEB_BUILD_COMMAND,
        TEST_COMMAND,
        SYNTH_COMMAND,
        CFN_LINT_COMMAND,
        UPGRADE_CHECK_COMMAND,
    ]
    assert "upgrade_check cdk.out" in UPGRADE_CHECK_COMMAND
    assert TEST_COMMAND == "scripts/test"
    assert SYNTH_COMMAND.endswith("python app.py")
    assert "cfn_lint cdk.out" in CFN_LINT_COMMAND
    assert spec["artifacts"]["base-directory"] == "cdk.out"
    project = pipeline_synth.project(synth["Configuration"]["ProjectName"])["Properties"]
    env = project["Environment"]
    assert not any(v["Name"] == "GOTOOLCHAIN" for v in env.get("EnvironmentVariables", []))
    assert env["Image"] == "aws/codebuild/standard:7.0"
    # scripts/test runs Redis, mongo-java-server and moto as local processes: no docker, no
    # privileged mode.
    assert env.get("PrivilegedMode", False) is False
    assert project["TimeoutInMinutes"] == pipeline_synth.config.build_timeout_minutes
    assert project["Cache"] == {"Type": "LOCAL", "Modes": ["LOCAL_CUSTOM_CACHE"]}


def test_pipeline_updates_itself(pipeline_synth: PipelineSynth) -> None:
    (mutate,) = pipeline_synth.stage("UpdatePipeline")["Actions"]
    commands = pipeline_synth.buildspec(mutate)["phases"]["build"]["commands"]
    assert any("cdk -a . deploy Pipeline" in c for c in commands), commands
    pipeline_synth.template.has_resource_properties(
        "AWS::CodePipeline::Pipeline",
        {"RestartExecutionOnUpdate": True, "PipelineType": "V2", "Name": "biwoco"},
    )


def test_image_is_built_once_and_published_to_every_account(
    pipeline_synth: PipelineSynth,
) -> None:
    assets = pipeline_synth.stage("Assets")["Actions"]
    docker = [
        a
        for a in assets
        if pipeline_synth.project(a["Configuration"]["ProjectName"])["Properties"][
            "Environment"
        ].get("PrivilegedMode")
    ]
    assert len(docker) == 1, [a["Name"] for a in docker]
    commands = " ".join(pipeline_synth.buildspec(docker[0])["phases"]["build"]["commands"])
    # One build of the repository's Dockerfile, pushed to dev's and prod's asset repos.
    assert "111111111111-ap-southeast-1" in commands
    assert "222222222222-ap-southeast-1" in commands
    manifest = json.loads(
        (pipeline_synth.outdir / "assembly-dev")
        .joinpath(
            next(
                p.name
                for p in (pipeline_synth.outdir / "assembly-dev").glob("*Service*.assets.json")
            )
        )
        .read_text()
    )
    (image,) = manifest["dockerImages"].values()
    assert image["source"]["dockerFile"] == "Dockerfile"


def test_cross_account_keys_with_rotation(pipeline_synth: PipelineSynth) -> None:
    tpl = pipeline_synth.raw()
    keys = resources_of(tpl, "AWS::KMS::Key")
    assert len(keys) == 1
    (key_id,) = keys
    assert keys[key_id]["Properties"]["EnableKeyRotation"] is True
    pipeline_synth.template.has_resource_properties(
        "AWS::CodePipeline::Pipeline",
        {
            "ArtifactStores": Match.array_with(
                [
                    Match.object_like(
                        {
                            "Region": "ap-southeast-1",
                            "ArtifactStore": Match.object_like(
                                {"EncryptionKey": Match.object_like({"Type": "KMS"})}
                            ),
                        }
                    )
                ]
            )
        },
    )
    # The us-east-1 replication bucket's key (the support stack) rotates too.
    support = next(pipeline_synth.outdir.glob("cross-region-stack-*us-east-1.template.json"))
    support_keys = resources_of(json.loads(support.read_text()), "AWS::KMS::Key")
    assert [k["Properties"]["EnableKeyRotation"] for k in support_keys.values()] == [True]


def test_pipeline_lives_in_the_tooling_account(pipeline_synth: PipelineSynth) -> None:
    stack = pipeline_synth.stack
    assert (stack.account, stack.region) == ("333333333333", "ap-southeast-1")
    assert stack.stack_name == "biwoco-pipeline"


def test_source_action_may_use_the_connection_under_its_arn_prefix(
    pipeline_synth: PipelineSynth,
) -> None:
    """IAM matches an action's service prefix against the resource ARN's: a codeconnections
    connection needs codeconnections:UseConnection (CDK grants only codestar-connections:)."""
    config = pipeline_synth.config
    assert config.connection_arn.startswith("arn:aws:codeconnections:")
    (source,) = pipeline_synth.stage("Source")["Actions"]
    role_id = source["RoleArn"]["Fn::GetAtt"][0]
    resources = pipeline_synth.raw()["Resources"]
    granted = [
        action
        for policy in resources_of(pipeline_synth.raw(), "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Allow" and statement["Resource"] == config.connection_arn
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    ]
    assert resources[role_id]["Type"] == "AWS::IAM::Role"
    assert "codeconnections:UseConnection" in granted


def test_every_role_cdk_lets_use_the_connection_may_use_it_under_its_arn_prefix(
    pipeline_synth: PipelineSynth,
) -> None:
    """The build clones the repository through the connection (CODEBUILD_CLONE_REF, for the
    upgrade check's history): its CodeBuild role, like the source action's, needs the
    connection's own prefix, or the clone is refused."""
    config = pipeline_synth.config
    by_role: dict[str, set[str]] = {}
    for policy in resources_of(pipeline_synth.raw(), "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] != "Allow" or statement["Resource"] != config.connection_arn:
                continue
            actions = statement["Action"]
            for role in policy["Properties"]["Roles"]:
                by_role.setdefault(role["Ref"], set()).update(
                    actions if isinstance(actions, list) else [actions]
                )
    assert len(by_role) >= 2  # the source action's and the build's
    for role, actions in by_role.items():
        assert "codeconnections:UseConnection" in actions, role
