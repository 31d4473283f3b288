"""cfn-lint every stack template of a cloud assembly, each for its own region.

``python -m pipelines.cfn_lint cdk.out`` walks ``manifest.json`` and the nested stage
assemblies, lints each ``aws:cloudformation:stack`` template against the region of its
environment (a us-east-1 stack against us-east-1), prints every match, and exits 1 when
any is an error. The pipeline's build step runs it after ``python app.py``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfnlint.api import ManualArgs, lint

DEFAULT_REGION = "us-east-1"

# (rule id, exact message) pairs that are not errors of ours, each with its reason.
# E3703 checks a CodePipeline action's RoleArn against the IAM role ARN format; for the
# cross-account CloudFormation roles CDK Pipelines writes that ARN as
# Fn::Join ["", ["arn:", Ref AWS::Partition, ":iam::<account>:role/cdk-..."]], and the
# format check reports only its Fn::Sub style preference, not a wrong ARN.
NOT_ERRORS = {
    ("E3703", "Prefer using Fn::Sub over Fn::Join with an empty delimiter"),
}


@dataclass(frozen=True)
class StackTemplate:
    path: Path
    region: str


def stack_templates(assembly_dir: Path) -> Iterator[StackTemplate]:
    """Every stack template of the assembly in ``assembly_dir``, nested ones included."""
    manifest: dict[str, Any] = json.loads((assembly_dir / "manifest.json").read_text("utf-8"))
    for artifact in manifest.get("artifacts", {}).values():
        props = artifact.get("properties", {})
        if artifact["type"] == "cdk:cloud-assembly":
            yield from stack_templates(assembly_dir / props["directoryName"])
        elif artifact["type"] == "aws:cloudformation:stack":
            region = artifact.get("environment", "").rpartition("/")[2]
            if not region or region.startswith("unknown"):
                region = DEFAULT_REGION
            yield StackTemplate(path=assembly_dir / props["templateFile"], region=region)


def lint_assembly(
    assembly_dir: Path, include: tuple[str, ...] | None = None
) -> tuple[int, list[str]]:
    """``(number of templates, lines)``; an error's line starts with ``error:``.

    ``include`` keeps only templates whose path (relative to ``assembly_dir``) starts
    with one of the given prefixes.
    """
    lines: list[str] = []
    count = 0
    for tpl in stack_templates(assembly_dir):
        if include is not None and not tpl.path.relative_to(assembly_dir).as_posix().startswith(
            include
        ):
            continue
        count += 1
        matches = lint(tpl.path.read_text("utf-8"), config=ManualArgs(regions=[tpl.region]))
        for m in matches:
            if (m.rule.id, m.message) in NOT_ERRORS:
                continue
            rel = tpl.path.relative_to(assembly_dir)
            lines.append(
                f"{m.rule.severity}: {m.rule.id} {rel}:{m.linenumber} [{tpl.region}] {m.message}"
            )
    return count, lines


def main(argv: list[str]) -> int:
    assembly_dir = Path(argv[0] if argv else "cdk.out")
    count, lines = lint_assembly(assembly_dir)
    for line in lines:
        print(line)
    errors = [line for line in lines if line.startswith("error:")]
    print(f"cfn-lint: {count} templates, {len(errors)} errors, {len(lines) - len(errors)} other")
    return 1 if errors or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
