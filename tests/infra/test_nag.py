"""cdk-nag AwsSolutions: zero unacknowledged errors AND warnings on every stack."""

from __future__ import annotations

from cdk_nag import AwsSolutionsChecks

from tests.infra.conftest import Synth


def test_no_unacknowledged_findings(synth: Synth) -> None:
    report = AwsSolutionsChecks(verbose=True).validate_scope(synth.app)
    findings = [
        f"{v.severity} {v.rule_name} at {[r.construct_path for r in v.violating_resources]}: "
        f"{v.description[:160]}"
        for v in report.violations
    ]
    assert findings == []
    assert report.success


def test_every_stack_was_checked(synth: Synth) -> None:
    # The pack walks the whole tree; make sure both environments' stacks are in it.
    paths = {s.node.path for stage in synth.stages.values() for s in stage.stacks}
    assert len(paths) == 10
