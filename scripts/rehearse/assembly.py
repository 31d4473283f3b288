"""The synthesized cloud assembly: its stacks, their exports, and CloudFormation values rendered to
strings.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scripts.rehearse.paths import ROOT, VENV
from scripts.rehearse.reporting import RehearsalError, say


def synthesize(outdir: Path) -> Path:
    """`python app.py` into outdir (the CDK app, exactly as `cdk synth` runs it)."""
    python = VENV / "bin" / "python"
    say(f"synthesizing the CDK app into {outdir} ...")
    started = time.monotonic()
    result = subprocess.run(
        [str(python if python.exists() else sys.executable), "app.py"],
        cwd=ROOT,
        env={**os.environ, "CDK_OUTDIR": str(outdir)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise RehearsalError(f"synthesis failed:\n{result.stderr[-4000:]}")
    say(f"synthesized in {time.monotonic() - started:.0f}s")
    return outdir


@dataclasses.dataclass
class Stack:
    name: str
    template: dict[str, Any]
    account: str
    region: str

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.template.get("Resources", {})
        return resources


@dataclasses.dataclass
class Assembly:
    env: str
    stacks: dict[str, Stack]
    exports: dict[str, tuple[Stack, Any]]

    @classmethod
    def load(cls, outdir: Path, env: str) -> Assembly:
        directory = outdir / f"assembly-{env}"
        manifest_path = directory / "manifest.json"
        if not manifest_path.exists():
            raise RehearsalError(f"no synthesized environment {env!r} in {outdir}")
        manifest = json.loads(manifest_path.read_text())
        stacks: dict[str, Stack] = {}
        for name, artifact in manifest["artifacts"].items():
            if artifact["type"] != "aws:cloudformation:stack":
                continue
            _, _, location = artifact["environment"].partition("aws://")
            account, _, region = location.partition("/")
            template = json.loads((directory / artifact["properties"]["templateFile"]).read_text())
            stacks[name] = Stack(name, template, account, region)
        exports: dict[str, tuple[Stack, Any]] = {}
        for stack_ in stacks.values():
            for output in stack_.template.get("Outputs", {}).values():
                export = output.get("Export", {}).get("Name")
                if isinstance(export, str):
                    exports[export] = (stack_, output["Value"])
        return cls(env, stacks, exports)

    def find(self, rtype: str) -> list[tuple[Stack, str, dict[str, Any]]]:
        return [
            (stack_, logical_id, resource)
            for stack_ in self.stacks.values()
            for logical_id, resource in stack_.resources.items()
            if resource["Type"] == rtype
        ]


def environments(outdir: Path) -> list[str]:
    """The environments synthesized as their own stage (assembly-<env>; not the pipeline's)."""
    config = json.loads((ROOT / "cdk.json").read_text())["context"]["biwoco"]["environments"]
    return [env for env in config if (outdir / f"assembly-{env}").is_dir()]


# A resolved reference to a resource attribute: (stack, logical id, attribute or "Ref").
Reference = tuple[Stack, str, str]


def render(value: Any, stack_: Stack, assembly: Assembly, attr: Callable[[Reference], str]) -> str:
    """A CloudFormation value as a string, AWS resources' attributes given by `attr`."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Fn::Join":
            separator, parts = argument
            return str(separator).join(render(p, stack_, assembly, attr) for p in parts)
        if function == "Fn::ImportValue":
            name = render(argument, stack_, assembly, attr)
            if name not in assembly.exports:
                raise RehearsalError(f"export {name} is not in the assembly")
            exporter, exported = assembly.exports[name]
            return render(exported, exporter, assembly, attr)
        if function == "Ref":
            if argument == "AWS::Region":
                return stack_.region
            if argument == "AWS::AccountId":
                return stack_.account
            if argument == "AWS::Partition":
                return "aws"
            if argument == "AWS::URLSuffix":
                return "amazonaws.com"
            return attr((stack_, argument, "Ref"))
        if function == "Fn::GetAtt":
            logical_id, attribute = (
                argument if isinstance(argument, list) else argument.split(".", 1)
            )
            return attr((stack_, logical_id, attribute))
    raise RehearsalError(f"cannot render {json.dumps(value)[:200]}")


def references(value: Any, stack_: Stack, assembly: Assembly) -> list[Reference]:
    """Every resource attribute a value refers to (through exports too)."""
    found: list[Reference] = []

    def collect(ref: Reference) -> str:
        found.append(ref)
        return ""

    with contextlib.suppress(RehearsalError):
        render(value, stack_, assembly, collect)
    return found
