"""Core speaks no module's language: no string literal in `service/core` names a listed module,
one of its queues, task names, beat entries, collections or error codes (imports are the import
contract's job; this catches what import-linter cannot see: names passed as strings)."""

from __future__ import annotations

import ast
from pathlib import Path

from service.app.modules import MODULES
from service.app.worker import app as worker_app
from service.core.exceptions import AppError

CORE = Path(__file__).resolve().parents[3] / "service" / "core"
# (file, literal): why the literal is not the module's word.
NOT_THE_MODULE = {
    ("service/core/db/app_user.py", "users"): "the field of MongoDB's usersInfo reply",
}


def _module_words() -> dict[str, str]:
    """word -> what it is, for every module of the list."""
    words: dict[str, str] = {}
    for module in MODULES:
        words[module.name] = f"module {module.name}"
        words.update({queue: f"queue of {module.name}" for queue in module.queues})
        words.update({name: f"collection of {module.name}" for name in module.index_plan})
        for entry in module.beat:
            words[entry.name] = f"beat entry of {module.name}"
            words[entry.task] = f"task of {module.name}"
    worker_app.loader.import_default_modules()  # the task modules, as the worker imports them
    for task in worker_app.tasks:
        owner = task.partition(".")[0]
        if any(owner == module.name for module in MODULES):
            words[task] = f"task of {owner}"
    for error in _subclasses(AppError):
        if error.__module__.startswith("service.app."):
            words[str(error.code)] = f"error code of {error.__module__}"
    return words


def _subclasses(cls: type[AppError]) -> list[type[AppError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def _string_literals(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_the_module_words_are_known() -> None:
    words = _module_words()
    # The check means something only if it knows what to look for.
    assert {"users", "files", "files.process", "user_not_found"} <= set(words)


def test_no_string_in_core_names_a_module_or_its_tasks_queues_or_errors() -> None:
    words = _module_words()
    found = []
    for path in sorted(CORE.rglob("*.py")):
        for line, value in _string_literals(path):
            candidates = {value, value.split(":")[0], value.removesuffix(".*")}
            where = str(path.relative_to(CORE.parent.parent))
            for word in candidates & set(words):
                if (where, word) not in NOT_THE_MODULE:
                    found.append(f"{where}:{line}: {value!r} ({words[word]})")
    assert not found, "core names module things:\n" + "\n".join(found)
