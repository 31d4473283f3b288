"""Synthesize the whole CDK app once per test session (both environments, cdk-nag off:
``test_nag.py`` runs the AwsSolutions pack itself so that it can list every finding)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template
from aws_cdk.cx_api import CloudAssembly

import infra  # noqa: F401  (Node.js for jsii)
from infra.application import create_app
from infra.stage import BiwocoStage

ENVS = ("dev", "prod")
STACKS = ("network", "data", "auth", "edge_firewall", "service")


@dataclass
class Synth:
    app: App
    stages: dict[str, BiwocoStage]
    assembly: CloudAssembly
    outdir: Path

    def stack(self, env: str, name: str) -> Stack:
        stack = getattr(self.stages[env], f"{name}_stack")
        assert isinstance(stack, Stack)
        return stack

    def template_files(self) -> list[Path]:
        return sorted(self.outdir.glob("assembly-*/*.template.json"))


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app, stages = create_app(outdir=str(outdir), nag=False)
    assembly = app.synth()
    return Synth(app=app, stages=stages, assembly=assembly, outdir=outdir)


_TEMPLATES: dict[tuple[str, str], Template] = {}


@pytest.fixture(scope="session")
def template(synth: Synth) -> Callable[[str, str], Template]:
    """``template(env, stack)`` -> the assertions ``Template`` (cached)."""

    def get(env: str, name: str) -> Template:
        key = (env, name)
        if key not in _TEMPLATES:
            _TEMPLATES[key] = Template.from_stack(synth.stack(env, name))
        return _TEMPLATES[key]

    return get


@pytest.fixture(scope="session")
def raw(synth: Synth) -> Callable[[str, str], dict[str, Any]]:
    """``raw(env, stack)`` -> the synthesized template as a dict."""

    def get(env: str, name: str) -> dict[str, Any]:
        stack = synth.stack(env, name)
        path = synth.outdir / f"assembly-{env}" / stack.template_file
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    return get


def resources_of(tpl: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in tpl["Resources"].items() if v["Type"] == rtype}


def only(tpl: dict[str, Any], rtype: str) -> dict[str, Any]:
    found = resources_of(tpl, rtype)
    assert len(found) == 1, f"expected one {rtype}, found {sorted(found)}"
    return next(iter(found.values()))


def app_container(task_definition: dict[str, Any]) -> dict[str, Any]:
    """The task definition's one essential container (beside it, at most sidecars)."""
    containers: list[dict[str, Any]] = task_definition["Properties"]["ContainerDefinitions"]
    (container,) = [c for c in containers if c.get("Essential", True)]
    return container
