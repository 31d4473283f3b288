"""cfn-lint: zero errors on every synthesized template (linted for its own region)."""

from __future__ import annotations

import pytest
from cfnlint.api import ManualArgs, lint

from tests.infra.conftest import Synth


def test_every_template_is_linted(synth: Synth) -> None:
    assert len(synth.template_files()) == 10


def test_cfn_lint_reports_no_errors(synth: Synth, subtests: pytest.Subtests) -> None:
    for env, stage in synth.stages.items():
        for stack in stage.stacks:
            path = synth.outdir / f"assembly-{env}" / stack.template_file
            with subtests.test(template=path.name):
                matches = lint(
                    path.read_text(encoding="utf-8"),
                    config=ManualArgs(regions=[stack.region]),
                )
                errors = [
                    f"{m.rule.id} {m.message} ({path.name}:{m.linenumber})"
                    for m in matches
                    if m.rule.severity == "error"
                ]
                assert errors == []
