"""`scripts/new-module NAME`: a complete module of the service, generated and registered.

Writes `service/app/<name>/` and `tests/service/app/<name>/` from the templates beside this
file (`string.Template`, in their text and their file names: `${name}` and friends, `$$` for a
literal `$`), then registers the module in the one list, `service/app/modules.py` (its import
line and its entry in `MODULES`). Nothing else in the repository changes. A name that cannot
be a module is refused before anything is written, with a readable message and exit status 2.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import keyword
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = Path(__file__).resolve().parent / "templates"
MODULES_FILE = Path("service/app/modules.py")
# Template tree -> where it goes, relative to the repository root.
DESTINATIONS = {"module": "service/app/{name}", "tests": "tests/service/app/{name}"}
SUFFIX = ".tmpl"
LINE_LENGTH = 100  # pyproject.toml [tool.ruff]

NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
MAX_NAME_LENGTH = 24
# Names a module cannot take: the root container's core (`core`), the packages and files beside
# the modules, the prefixes of core's own tasks (`mail.*`, `ops.*`), and words that would read as
# something else in imports, settings and environment variables. (Every collection and queue
# already declared is refused too, read from the module list: see `taken`.)
RESERVED = frozenset(
    {
        "core", "app", "service", "services", "modules", "module", "container", "containers",
        "server", "worker", "main", "settings", "config", "tests", "test", "scripts", "api",
        "mail", "ops", "common", "shared", "kit",
    }
)  # fmt: skip


class InvalidNameError(ValueError):
    """A name that cannot be a module; the message says why and what would do."""


class MissingToolError(RuntimeError):
    """The generator cannot run here (the project's tools are missing)."""


@dataclass(frozen=True, slots=True)
class Names:
    """Every spelling the templates use, derived from the module's name."""

    name: str  # orders: package, collection, queue, task prefix, root container attribute
    entity: str  # order: what one record is

    @property
    def mapping(self) -> dict[str, str]:
        return {
            "name": self.name,
            "Name": camel(self.name),
            "NAME": self.name.upper(),
            "entity": self.entity,
            "Entity": camel(self.entity),
            "path": self.name.replace("_", "-"),
        }


def camel(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def singular(name: str) -> str:
    """The record's name from the module's (plural) name; `--entity` overrides it."""
    for plural, one in (("ies", "y"), ("sses", "ss"), ("xes", "x"), ("ches", "ch"), ("shes", "sh")):
        if name.endswith(plural) and len(name) > len(plural):
            return name[: -len(plural)] + one
    if name.endswith("s") and not name.endswith("ss") and len(name) > 1:
        return name[:-1]
    return name


def check_identifier(value: str, what: str) -> None:
    if not NAME_PATTERN.fullmatch(value):
        raise InvalidNameError(
            f"{what} {value!r} must be a lowercase Python identifier: a letter, then letters, "
            "digits or underscores (it names a package, a collection, a queue and an "
            "environment variable prefix), e.g. 'orders' or 'purchase_orders'"
        )
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidNameError(f"{what} {value!r} is longer than {MAX_NAME_LENGTH} characters")
    if value.endswith("_") or "__" in value:
        raise InvalidNameError(f"{what} {value!r}: no trailing or doubled underscores")
    if keyword.iskeyword(value) or keyword.issoftkeyword(value):
        raise InvalidNameError(f"{what} {value!r} is a Python keyword")


def registered_names(root: Path) -> list[str]:
    """The modules `service/app/modules.py` registers, in its order."""
    tree = ast.parse((root / MODULES_FILE).read_text())
    return [element.id for element in _modules_tuple(tree).elts if isinstance(element, ast.Name)]


def taken() -> dict[str, str]:
    """Collections and queues already declared (a module's name becomes both), by what uses
    them; read from the module list of the tree the generator runs in."""
    from service.app.modules import MODULES
    from service.core.celery_task import CORE_QUEUES
    from service.core.worker.tasks import CORE_INDEX_PLAN

    uses = {queue: "a core queue" for queue in CORE_QUEUES}
    uses.update({collection: "a core collection" for collection in CORE_INDEX_PLAN})
    for module in MODULES:
        uses.update({queue: f"a queue of module {module.name}" for queue in module.queues})
        used_by = f"a collection of module {module.name}"
        uses.update({collection: used_by for collection in module.index_plan})
    return uses


def validate(root: Path, name: str, entity: str | None) -> Names:
    check_identifier(name, "module name")
    if name in RESERVED:
        raise InvalidNameError(f"module name {name!r} is reserved (it names part of the service)")
    entity = entity or singular(name)
    check_identifier(entity, "entity name")
    if entity in RESERVED or entity == "module":
        raise InvalidNameError(f"entity name {entity!r} is reserved; pick another with --entity")
    if name in registered_names(root):
        raise InvalidNameError(f"module {name!r} exists already (service/app/modules.py lists it)")
    owner = taken().get(name)
    if owner:
        raise InvalidNameError(f"module name {name!r} is taken: {owner}")
    for template_tree, destination in DESTINATIONS.items():
        target = root / destination.format(name=name)
        if target.exists():
            where = target.relative_to(root)
            raise InvalidNameError(f"{where} exists already: module {name!r} is taken")
        if not (TEMPLATES / template_tree).is_dir():
            raise RuntimeError(f"templates missing: {TEMPLATES / template_tree}")
    return Names(name=name, entity=entity)


def render(names: Names) -> dict[Path, str]:
    """Every file to write (relative to the root) with its text; nothing written yet."""
    files: dict[Path, str] = {}
    mapping = names.mapping
    for template_tree, destination in DESTINATIONS.items():
        base = TEMPLATES / template_tree
        for template in sorted(base.rglob(f"*{SUFFIX}")):
            # A file's name may use the placeholders too: `${entity}_service.py.tmpl`.
            relative = Template(str(template.relative_to(base).with_suffix(""))).substitute(mapping)
            target = Path(destination.format(name=names.name)) / relative
            files[target] = Template(template.read_text()).substitute(mapping)
    return files


def _modules_assignment(tree: ast.Module) -> tuple[ast.stmt, ast.Tuple]:
    """The statement `MODULES[: ...] = (...)` and its tuple."""
    for statement in tree.body:
        if isinstance(statement, ast.AnnAssign):
            targets: list[ast.expr] = [statement.target]
        elif isinstance(statement, ast.Assign):
            targets = statement.targets
        else:
            continue
        value = statement.value
        named = [t for t in targets if isinstance(t, ast.Name) and t.id == "MODULES"]
        if named and isinstance(value, ast.Tuple):
            return statement, value
    raise RuntimeError(f"{MODULES_FILE}: no `MODULES = (...)` tuple to register the module in")


def _modules_tuple(tree: ast.Module) -> ast.Tuple:
    return _modules_assignment(tree)[1]


def import_line(name: str) -> str:
    return f"from service.app.{name}.module import module as {name}\n"


def register(source: str, name: str) -> str:
    """`modules.py` with the module's import (in sorted place) and its entry in `MODULES`
    (last), laid out as `ruff format` lays it out."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    assignment, modules = _modules_assignment(tree)
    names = [element.id for element in modules.elts if isinstance(element, ast.Name)]
    start, end = assignment.lineno - 1, assignment.end_lineno or assignment.lineno
    head = lines[start][: modules.col_offset]
    entries = [*names, name]
    one_line = f"{head}({', '.join(entries)})\n"
    magic_comma = source[: _offset(lines, modules.end_lineno, modules.end_col_offset)].rstrip()
    if len(one_line) - 1 <= LINE_LENGTH and not magic_comma.endswith(",)"):
        rewritten = [one_line]
    else:
        rewritten = [f"{head}(\n", *(f"    {entry},\n" for entry in entries), ")\n"]
    lines[start:end] = rewritten

    # The import: among the `from service.app.<x>.module import module as <x>` lines, sorted.
    imports = [
        s
        for s in tree.body
        if isinstance(s, ast.ImportFrom)
        and (s.module or "").startswith("service.app.")
        and (s.module or "").endswith(".module")
    ]
    if not imports:
        raise RuntimeError(f"{MODULES_FILE}: no `from service.app.<x>.module import ...` lines")
    new_module = f"service.app.{name}.module"
    after = [s for s in imports if (s.module or "") < new_module]
    position = (after[-1].end_lineno or after[-1].lineno) if after else imports[0].lineno - 1
    lines.insert(position, import_line(name))
    return "".join(lines)


def _offset(lines: Sequence[str], lineno: int | None, col: int | None) -> int:
    assert lineno is not None
    assert col is not None
    return sum(len(line) for line in lines[: lineno - 1]) + col


def generate(root: Path, name: str, entity: str | None = None) -> tuple[Names, list[Path]]:
    """Write the module and register it; its names and the paths written (relative to `root`)."""
    names = validate(root, name, entity)
    if importlib.util.find_spec("ruff") is None:
        raise MissingToolError("ruff is not installed here (scripts/bootstrap installs it)")
    files = render(names)
    modules_path = root / MODULES_FILE
    listed = modules_path.read_text()
    registered = register(listed, names.name)
    compile(registered, str(modules_path), "exec")  # never leave a broken list behind
    written: list[Path] = []
    try:
        for relative, text in files.items():
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            written.append(relative)
        modules_path.write_text(registered)
        written.append(MODULES_FILE)
        format_python(root, [path for path in written if path.suffix == ".py"])
    except BaseException:
        # All or nothing: a failure half-way leaves the tree as it was.
        for destination in DESTINATIONS.values():
            shutil.rmtree(root / destination.format(name=names.name), ignore_errors=True)
        modules_path.write_text(listed)
        raise
    return names, written


def format_python(root: Path, paths: Sequence[Path]) -> None:
    """Sort the imports and lay the code out as ruff does: the templates are laid out for a short
    name, and where the module's names sort among the others' depends on the name."""
    files = [str(path) for path in paths]
    ruff = [sys.executable, "-m", "ruff"]
    subprocess.run(
        [*ruff, "check", "--quiet", "--select", "I", "--fix", *files], cwd=root, check=True
    )
    subprocess.run([*ruff, "format", "--quiet", *files], cwd=root, check=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/new-module",
        description="Generate a module of the service (domain, application, Mongo repository, "
        "API routes, a cached read, a Celery task and its queue, tests) and register it in "
        "service/app/modules.py. See docs/new-module.md.",
    )
    parser.add_argument("name", help="the module's name, in plural snake_case: orders, line_items")
    parser.add_argument(
        "--entity", help="one record's name (default: the name made singular: orders -> order)"
    )
    arguments = parser.parse_args(argv)
    try:
        names, written = generate(ROOT, arguments.name, arguments.entity)
    except InvalidNameError as error:
        print(f"new-module: {error}; nothing was changed", file=sys.stderr)
        return 2
    except MissingToolError as error:
        print(f"new-module: {error}; nothing was changed", file=sys.stderr)
        return 1
    print(f"new-module: wrote {len(written) - 1} files and registered {arguments.name!r}:")
    for destination in DESTINATIONS.values():
        print(f"  {destination.format(name=arguments.name)}/")
    print(f"  {MODULES_FILE} (import and MODULES entry)")
    print(
        f"Next: scripts/test tests/service/app/{arguments.name} (or the checks in "
        f"docs/new-module.md); the API is under /api/v1/{names.mapping['path']}."
    )
    return 0
