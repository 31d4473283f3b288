"""Every cdk-nag acknowledgement made in pipelines/ is listed, with its reason, in
docs/security.md (under the pipeline's heading)."""

from __future__ import annotations

import re

from infra.config import REPO_ROOT
from infra.nag import ACKNOWLEDGEMENTS, Ack
from tests.pipelines.conftest import PipelineSynth

HEADING = "## Delivery pipeline"


def _normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("`", "")).strip()


def pipeline_acknowledgements(synth: PipelineSynth) -> list[Ack]:
    """Those on the pipeline's own constructs (not the infra stages it deploys)."""
    stack_path = synth.stack.node.path
    stage_paths = [stage.node.path for stage in synth.stack.stages]
    support_paths = [
        s.stack.node.path for s in synth.stack.pipeline.pipeline.cross_region_support.values()
    ]
    return [
        a
        for a in ACKNOWLEDGEMENTS
        if (a.path.startswith(stack_path + "/") or a.path.split("/")[0] in support_paths)
        and not any(a.path == p or a.path.startswith(p + "/") for p in stage_paths)
    ]


def test_every_pipeline_acknowledgement_is_documented(pipeline_synth: PipelineSynth) -> None:
    doc = (REPO_ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    assert HEADING in doc
    section = _normalize(doc.split(HEADING, 1)[1].split("\n## ", 1)[0])
    acks = pipeline_acknowledgements(pipeline_synth)
    assert len(acks) >= 10
    missing = [
        f"{a.rule}: {a.reason}"
        for a in acks
        if _normalize(a.rule) not in section or _normalize(a.reason) not in section
    ]
    assert missing == []
