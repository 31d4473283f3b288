"""infra/stage.py and infra/stacks.py: one Stage per environment, reusable by a pipeline."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from aws_cdk import App, CfnOutput, Stack
from aws_cdk.assertions import Template

from infra.config import parse_env, read_cdk_json
from infra.stage import BiwocoStage
from tests.infra.conftest import ENVS, Synth


@pytest.mark.parametrize("env", ENVS)
def test_stacks_names_regions_and_accounts(synth: Synth, env: str) -> None:
    stage = synth.stages[env]
    names = [s.stack_name for s in stage.stacks]
    assert names == [
        f"biwoco-{env}-network",
        f"biwoco-{env}-data",
        f"biwoco-{env}-auth",
        f"biwoco-{env}-edgefirewall",
        f"biwoco-{env}-service",
    ]
    account = "111111111111" if env == "dev" else "222222222222"
    for stack in stage.stacks:
        assert stack.account == account
    assert stage.edge_firewall_stack.region == "us-east-1"
    assert {s.region for s in stage.stacks if s is not stage.edge_firewall_stack} == {
        "ap-southeast-1"
    }


def test_stateful_stacks_are_termination_protected_in_prod(synth: Synth) -> None:
    prod, dev = synth.stages["prod"], synth.stages["dev"]
    assert prod.data_stack.termination_protection
    assert prod.auth_stack.termination_protection
    assert not prod.service_stack.termination_protection
    assert not dev.data_stack.termination_protection


@pytest.mark.parametrize("env", ENVS)
def test_api_url_output_for_the_pipeline(synth: Synth, env: str) -> None:
    stage = synth.stages[env]
    output = stage.api_url_output
    assert isinstance(output, CfnOutput)
    assert Stack.of(output) is stage.service_stack
    outputs = Template.from_stack(stage.service_stack).find_outputs("ApiUrl")
    (value,) = outputs.values()
    rendered = str(value["Value"])
    if env == "prod":
        assert value["Value"] == "https://api.biwoco.example"
    else:
        assert "https://" in rendered
        assert "DomainName" in rendered


def test_stage_is_reusable_under_another_id() -> None:
    """A pipeline adds the same Stage class under its own id: same stack names."""
    block: dict[str, Any] = copy.deepcopy(read_cdk_json()["biwoco"]["environments"]["dev"])
    app = App()
    stage = BiwocoStage(app, "PipelineDev", config=parse_env("dev", block))
    assert stage.service_stack.stack_name == "biwoco-dev-service"
    assert isinstance(stage.api_url_output, CfnOutput)


def test_account_agnostic_synthesis(tmp_path_factory: pytest.TempPathFactory) -> None:
    """With ``account: null`` the stacks synthesize for whichever account deploys them."""
    block: dict[str, Any] = copy.deepcopy(read_cdk_json()["biwoco"]["environments"]["dev"])
    block["account"] = None
    app = App(outdir=str(tmp_path_factory.mktemp("agnostic")))
    stage = BiwocoStage(app, "dev", config=parse_env("dev", block))
    assembly = app.synth()
    assert len(assembly.nested_assemblies) == 1 or assembly.get_nested_assembly("assembly-dev")
    uploads = Template.from_stack(stage.data_stack).find_resources("AWS::S3::Bucket")
    names = [str(b["Properties"].get("BucketName")) for b in uploads.values()]
    assert any("AWS::AccountId" in n for n in names)
