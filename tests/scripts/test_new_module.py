"""`scripts/new-module`: a generated module passes every check, and adding it changes nothing
outside it but the one list.

The slow test works on a copy of the repository (its tracked and unignored files, the
project's .venv linked in), so the worktree is never touched: it generates `orders` there, then
runs the checks `scripts/test` runs (ruff, ruff format, mypy strict, the import contracts), the
generated module's tests against the running local stack (with the checks of its indexes and
its data-model entry), and reads the OpenAPI document.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scripts.new_module import (
    MAX_NAME_LENGTH,
    MODULES_FILE,
    Names,
    format_python,
    register,
    render,
    singular,
)

ROOT = Path(__file__).resolve().parents[2]
NEW_MODULE = ROOT / "scripts" / "new-module"
VENV_BIN = ROOT / ".venv" / "bin"


def run(
    command: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def tree_state(root: Path) -> tuple[str, bytes]:
    status = run(["git", "status", "--porcelain", "--untracked-files=all"], root).stdout
    return status, (root / MODULES_FILE).read_bytes()


# -- fast: names, the list, the layout ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("Orders", "lowercase Python identifier"),
        ("2fa", "lowercase Python identifier"),
        ("line-items", "lowercase Python identifier"),
        ("orders_", "no trailing or doubled underscores"),
        ("line__items", "no trailing or doubled underscores"),
        ("x" * (MAX_NAME_LENGTH + 1), "longer than"),
        ("class", "Python keyword"),
        ("match", "Python keyword"),
        ("core", "reserved"),
        ("settings", "reserved"),
        ("users", "exists already"),
        ("files", "exists already"),
        ("file_quotas", "a collection of module files"),
        ("email", "a core queue"),
        ("mail", "reserved"),
    ],
)
def test_a_bad_name_is_refused_with_exit_2_and_changes_nothing(name: str, why: str) -> None:
    before = tree_state(ROOT)
    result = run([str(NEW_MODULE), name], ROOT)
    assert result.returncode == 2, result.stdout + result.stderr
    assert why in result.stderr
    assert "nothing was changed" in result.stderr
    assert tree_state(ROOT) == before


def test_an_entity_name_is_checked_too() -> None:
    before = tree_state(ROOT)
    result = run([str(NEW_MODULE), "orders", "--entity", "Order"], ROOT)
    assert (result.returncode, tree_state(ROOT)) == (2, before)
    assert "entity name 'Order'" in result.stderr


@pytest.mark.parametrize(
    ("plural", "one"),
    [("orders", "order"), ("categories", "category"), ("addresses", "address"),
     ("boxes", "box"), ("batches", "batch"), ("line_items", "line_item"), ("news", "new"),
     ("inventory", "inventory"), ("status", "statu")],
)  # fmt: skip
def test_the_entity_is_the_name_made_singular(plural: str, one: str) -> None:
    # (Where the rule gets it wrong, `--entity` says it: `new-module status --entity status`.)
    assert singular(plural) == one


LIST = '''"""The modules."""

from service.app.files.module import module as files
from service.app.health.module import module as health
from service.app.users.module import module as users
from service.core.module import Module

MODULES: tuple[Module, ...] = (health, users, files)
'''


def test_registering_adds_the_sorted_import_and_the_last_entry() -> None:
    registered = register(LIST, "billing")
    assert registered == LIST.replace(
        "from service.app.files",
        "from service.app.billing.module import module as billing\nfrom service.app.files",
    ).replace("(health, users, files)", "(health, users, files, billing)")
    assert (
        register(LIST, "zoo").splitlines()[5] == "from service.app.zoo.module import module as zoo"
    )


def test_registering_keeps_a_long_list_as_ruff_lays_it_out() -> None:
    long_list = LIST
    for name in ("inventory", "purchase_orders", "shipments", "warehouses"):
        long_list = register(long_list, name)
    assert long_list.endswith(
        "MODULES: tuple[Module, ...] = (\n    health,\n    users,\n    files,\n    inventory,\n"
        "    purchase_orders,\n    shipments,\n    warehouses,\n)\n"
    )
    assert register(long_list, "zones").endswith("    warehouses,\n    zones,\n)\n")


def test_file_names_take_the_module_s_names_too() -> None:
    written = {str(path) for path in render(Names(name="line_items", entity="line_item"))}
    assert "service/app/line_items/application/line_item_service.py" in written
    assert "tests/service/app/line_items/application/test_line_item_service.py" in written
    assert [path for path in written if "$" in path or "{" in path] == []


def test_every_line_fits_for_the_longest_name(tmp_path: Path) -> None:
    longest = "a" * (MAX_NAME_LENGTH - 2) + "_b"
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    written = []
    for relative, text in render(Names(name=longest, entity=longest)).items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
        written.append(relative)
    format_python(tmp_path, [path for path in written if path.suffix == ".py"])
    ruff = str(VENV_BIN / "ruff")
    lint = run([ruff, "check", "--select", "E501,I", "."], tmp_path)
    assert lint.returncode == 0, lint.stdout
    layout = run([ruff, "format", "--check", "."], tmp_path)
    assert layout.returncode == 0, layout.stdout


# -- slow: generate in a copy, then every check ---------------------------------------------------


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's files (tracked, and new ones not ignored) in a fresh git repository,
    with the project's .venv and a warm mypy cache."""
    target = tmp_path_factory.mktemp("repo") / "biwoco"
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], ROOT)
    for name in filter(None, listed.stdout.split("\0")):
        source = ROOT / name
        if source.is_file():  # (a file deleted in the worktree is still listed)
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name, follow_symlinks=False)
    (target / ".venv").symlink_to(ROOT / ".venv")
    if (ROOT / ".mypy_cache").is_dir():
        shutil.copytree(ROOT / ".mypy_cache", target / ".mypy_cache")
    for command in (
        ["git", "init", "-q"],
        ["git", "add", "-A"],
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "base"],
    ):
        assert run(command, target).returncode == 0
    return target


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.timeout(1800)
def test_a_generated_module_passes_every_check_and_changes_only_itself_and_the_list(
    copy: Path, stack_env: dict[str, str]
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST")},
        **stack_env,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    timings: dict[str, float] = {}

    def check(step: str, *command: str) -> str:
        started = time.monotonic()
        result = run(list(command), copy, env)
        timings[step] = time.monotonic() - started
        assert result.returncode == 0, f"{step} failed:\n{result.stdout[-6000:]}{result.stderr}"
        return result.stdout

    check("new-module", str(copy / "scripts" / "new-module"), "orders")
    check("ruff check", "ruff", "check", ".")
    check("ruff format", "ruff", "format", "--check", ".")
    check("mypy", "mypy")
    check("lint-imports", "lint-imports")
    check(
        "pytest",
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/service/app/orders",
        # Its queries are served by its indexes, and its data-model.md names them.
        "tests/docdb/test_index_coverage.py",
        "tests/service/app/users/test_data_model_doc.py",
    )
    paths = check(
        "openapi",
        sys.executable,
        "-c",
        "import json, scripts.openapi as o; print(json.dumps(list(o.openapi_document()['paths'])))",
    )
    assert {"/api/v1/orders", "/api/v1/orders/{order_id}"} <= set(json.loads(paths))

    # The diff count: new files under the module's two folders, and the one list.
    changed = run(["git", "status", "--porcelain", "--untracked-files=all"], copy).stdout
    lines = changed.splitlines()
    modified = [line[3:] for line in lines if not line.startswith("??")]
    added = [line[3:] for line in lines if line.startswith("??")]
    assert modified == [str(MODULES_FILE)], changed
    outside = [
        path
        for path in added
        if not path.startswith(("service/app/orders/", "tests/service/app/orders/"))
    ]
    assert outside == [], changed
    assert "service/app/orders/module.py" in added
    assert "service/app/orders/application/order_service.py" in added
    assert "tests/service/app/orders/adapter/input/test_tasks.py" in added

    report = ", ".join(f"{step} {seconds:.1f}s" for step, seconds in timings.items())
    print(f"\nnew-module check timings: {report}")  # shown with -s / -rP
