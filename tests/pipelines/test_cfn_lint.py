"""pipelines/cfn_lint.py, the build step's linter: every template, each in its region."""

from __future__ import annotations

from pipelines.cfn_lint import lint_assembly, stack_templates
from tests.pipelines.conftest import PipelineSynth


def test_finds_every_template_with_its_region(pipeline_synth: PipelineSynth) -> None:
    found = {
        t.path.relative_to(pipeline_synth.outdir).as_posix(): t.region
        for t in stack_templates(pipeline_synth.outdir)
    }
    # The pipeline, its us-east-1 support stack, and 5 stacks per deployed stage.
    assert len(found) == 12
    assert found["Pipeline.template.json"] == "ap-southeast-1"
    assert [r for p, r in found.items() if p.startswith("cross-region-stack-")] == ["us-east-1"]
    assert sorted(r for p, r in found.items() if "EdgeFirewall" in p) == ["us-east-1"] * 2


def test_pipeline_templates_have_no_cfn_lint_errors(pipeline_synth: PipelineSynth) -> None:
    # The stage templates are linted by tests/infra; here: what pipelines/ adds.
    count, lines = lint_assembly(pipeline_synth.outdir, include=("Pipeline", "cross-region-stack-"))
    assert count == 2
    assert [line for line in lines if line.startswith("error:")] == []
