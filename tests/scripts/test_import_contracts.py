"""The module-hexagon contract is built from a module list: a module in the list is held to
the layers and the framework-free domain, without a contract of its own being written."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

CONFIG = """\
[importlinter]
root_packages =
    demo
include_external_packages = True
contract_types =
    module_hexagons: scripts.import_contracts.ModuleHexagonsContract

[importlinter:contract:hexagons]
name = hexagons
type = module_hexagons
modules = demo.modules:MODULES
domain_forbidden =
    fastapi
"""


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def _demo(tmp_path: Path, domain: str) -> subprocess.CompletedProcess[str]:
    _write(
        tmp_path,
        {
            "demo/__init__.py": "",
            "demo/shop/__init__.py": "",
            "demo/shop/container.py": """\
                from dependency_injector import containers


                class ShopContainer(containers.DeclarativeContainer):
                    pass
                """,
            "demo/shop/adapter/__init__.py": "import demo.shop.application\n",
            "demo/shop/application/__init__.py": "import demo.shop.domain\n",
            "demo/shop/domain/__init__.py": domain,
            "demo/modules.py": """\
                from demo.shop.container import ShopContainer
                from service.core.module import Module

                MODULES = (Module(name="shop", container=ShopContainer),)
                """,
            ".importlinter": CONFIG,
        },
    )
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    return subprocess.run(
        [str(LINT_IMPORTS), ".importlinter"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_listed_module_with_a_clean_hexagon_is_kept(tmp_path: Path) -> None:
    run = _demo(tmp_path, "VALUE = 1\n")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "hexagons KEPT" in run.stdout


def test_a_listed_modules_domain_importing_a_framework_breaks_it(tmp_path: Path) -> None:
    run = _demo(tmp_path, "import fastapi\n")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "shop: domain is framework-free" in run.stdout


def test_a_listed_modules_domain_importing_its_adapter_breaks_it(tmp_path: Path) -> None:
    run = _demo(tmp_path, "import demo.shop.adapter\n")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "shop: adapter -> application -> domain" in run.stdout
