"""Synthesize the pipeline stack once per test session (cdk-nag as a failing plugin).

The app holds only the ``Pipeline`` stack (with its dev and prod stages) and the
cross-region support stack CDK Pipelines adds for the us-east-1 actions, configured from
``cdk.json`` exactly as ``app.py`` does it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Validations
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from infra.config import load_configs, read_cdk_json
from pipelines.config import PipelineConfig, load_pipeline_config
from pipelines.stack import PipelineStack


@dataclass
class PipelineSynth:
    app: App
    stack: PipelineStack
    config: PipelineConfig
    template: Template
    outdir: Path

    def raw(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(
            (self.outdir / self.stack.template_file).read_text(encoding="utf-8")
        )
        return data

    def stages(self) -> list[dict[str, Any]]:
        """The CodePipeline's ``Stages`` property."""
        pipelines = resources_of(self.raw(), "AWS::CodePipeline::Pipeline")
        assert len(pipelines) == 1
        stages: list[dict[str, Any]] = next(iter(pipelines.values()))["Properties"]["Stages"]
        return stages

    def stage(self, name: str) -> dict[str, Any]:
        (found,) = [s for s in self.stages() if s["Name"] == name]
        return found

    def project(self, ref: dict[str, str]) -> dict[str, Any]:
        """The CodeBuild project an action's ``ProjectName: {Ref: ...}`` points to."""
        project: dict[str, Any] = self.raw()["Resources"][ref["Ref"]]
        assert project["Type"] == "AWS::CodeBuild::Project"
        return project

    def buildspec(self, action: dict[str, Any]) -> dict[str, Any]:
        source = self.project(action["Configuration"]["ProjectName"])["Properties"]["Source"]
        spec: dict[str, Any] = json.loads(source["BuildSpec"])
        return spec


def resources_of(tpl: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in tpl["Resources"].items() if v["Type"] == rtype}


@pytest.fixture(scope="session")
def pipeline_synth(tmp_path_factory: pytest.TempPathFactory) -> PipelineSynth:
    # (importing pipelines.* first points jsii at the wheel's Node.js, see infra/__init__)
    context = read_cdk_json()
    config = load_pipeline_config(context)
    assert config is not None, "cdk.json has no biwoco.pipeline block"
    outdir = tmp_path_factory.mktemp("pipeline.cdk.out")
    app = App(context=context, outdir=str(outdir))
    stack = PipelineStack(app, "Pipeline", config=config, environments=load_configs(context))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    app.synth()  # raises on any unacknowledged cdk-nag finding
    return PipelineSynth(
        app=app,
        stack=stack,
        config=config,
        template=Template.from_stack(stack),
        outdir=outdir,
    )
