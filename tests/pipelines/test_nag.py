"""cdk-nag AwsSolutions on the pipeline: zero unacknowledged errors and warnings."""

from __future__ import annotations

from cdk_nag import AwsSolutionsChecks

from tests.pipelines.conftest import PipelineSynth


def test_no_unacknowledged_findings(pipeline_synth: PipelineSynth) -> None:
    # The fixture's synthesis already fails on any finding; this lists warnings too.
    report = AwsSolutionsChecks(verbose=True).validate_scope(pipeline_synth.app)
    findings = [
        f"{v.severity} {v.rule_name} at {[r.construct_path for r in v.violating_resources]}"
        for v in report.violations
    ]
    assert findings == []
    assert report.success
