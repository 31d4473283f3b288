"""The DocumentDB compatibility gate: every command the test suite sends is checked.

A pytest plugin (registered by tests/conftest.py). PyMongo's command monitoring sees every
command of every client created in the test process (the service's, the tests' own, sync and
async alike); each is walked for its command name, query, projection and update operators,
aggregation stages and expression operators, index types and options, and checked against
the table of what Amazon DocumentDB 8.0 supports (``documentdb-8.0.json`` beside this file,
with its source). Anything unsupported, or missing from the table, fails the test that sent it
(an error at its teardown naming the operator); a command sent outside any test fails the
session. Servers in other processes (the live API, Celery workers) run the same code paths
the in-process tests drive.

The recorded queries are also kept as shapes (collection, equality fields, sort) for the
index-coverage test (tests/docdb/test_index_coverage.py).
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Final

import pytest
from pymongo import monitoring

from tests.docdb.command_rules import collmod_problems, partial_problems

TABLE_PATH: Final = Path(__file__).with_name("documentdb-8.0.json")
ENGINE: Final = "DocumentDB 8.0"  # the version the clusters run (cdk.json), whose table this is
OUTSIDE_TESTS: Final = "<outside any test>"


@dataclass(frozen=True)
class SupportTable:
    """What DocumentDB 8.0 supports, by name, as the JSON table lists it."""

    commands: Mapping[str, bool]
    driver_commands: Mapping[str, str]
    command_options: Mapping[str, bool]
    operators: Mapping[str, bool]
    contexts: Mapping[str, frozenset[str]]
    index_key_types: Mapping[str, bool]
    index_options: Mapping[str, bool]

    @classmethod
    def load(cls, path: Path = TABLE_PATH) -> SupportTable:
        data = json.loads(path.read_text())
        return cls(
            commands=data["commands"],
            driver_commands=data["driver_commands"],
            command_options=data["command_options"],
            operators=data["operators"],
            contexts={name: frozenset(names) for name, names in data["contexts"].items()},
            index_key_types=data["index_key_types"],
            index_options=data["index_options"],
        )


@dataclass(frozen=True)
class QueryShape:
    """What an index must serve: equality fields (any order), then the sort, in order; and what
    DocumentDB's planner needs to see to use an index at all (tests/docdb/planner.py)."""

    collection: str
    command: str
    equality: frozenset[str]
    sort: tuple[tuple[str, int], ...]
    other: frozenset[str]  # fields filtered by ranges, $in, $ne, regexes...
    # Fields the filter asks `$exists: true` of (what opens a sparse index).
    exists: frozenset[str] = frozenset()
    # (operator, field) of every negation anywhere in the filter: no index serves them.
    negations: frozenset[tuple[str, str]] = frozenset()
    # The filter's top-level clauses, canonical (what a partial index's expression must be in).
    clauses: frozenset[str] = frozenset()


@dataclass
class Finding:
    test: str
    command: str
    what: str

    def __str__(self) -> str:
        return f"{self.what} (in `{self.command}`, sent by {self.test})"


class Checker:
    """Walks one command document and lists what the table does not support."""

    def __init__(self, table: SupportTable) -> None:
        self.table = table

    def check(self, name: str, command: Mapping[str, Any]) -> list[str]:
        problems: list[str] = []
        if name in self.table.driver_commands:
            return problems
        supported = self.table.commands.get(name)
        if supported is None:
            return [f"command `{name}` is not in the {ENGINE} table"]
        if not supported:
            return [f"command `{name}` is not supported by {ENGINE}"]
        for option, allowed in self.table.command_options.items():
            if option in command and not allowed:
                problems.append(f"command option `{option}` is not supported by {ENGINE}")
        for context, part in _parts(name, command):
            problems.extend(self._walk(context, part))
        if name == "createIndexes":
            for index in command.get("indexes", []):
                problems.extend(self._index(index))
        elif name == "collMod":
            problems.extend(collmod_problems(command, ENGINE))
        elif name == "listCollections" and command.get("filter"):
            problems.append(f"`listCollections` with a filter: {ENGINE} supports no filter option")
        for statement in [*command.get("updates", []), *command.get("deletes", [])]:
            for option in statement:  # per-statement options, as the command's own
                if self.table.command_options.get(option) is False:
                    problems.append(f"statement option `{option}` is not supported by {ENGINE}")
        return problems

    def _operator(self, context: str, operator: str) -> list[str]:
        supported = self.table.operators.get(operator)
        if supported is None:
            return [f"{context} operator `{operator}` is not in the {ENGINE} table"]
        if not supported:
            return [f"{context} operator `{operator}` is not supported by {ENGINE}"]
        if operator not in self.table.contexts[context]:
            return [f"`{operator}` is not a {context} operator {ENGINE} lists"]
        return []

    def _walk(self, context: str, part: Any) -> list[str]:
        if context == "query":
            return list(self._query(part))
        if context == "update":
            return list(self._update(part))
        if context == "projection":
            return list(self._projection(part))
        if context == "pipeline":
            return list(self._pipeline(part))
        return list(self._expression(part))

    def _query(self, filter_: Any) -> Iterator[str]:
        if not isinstance(filter_, Mapping):
            return
        for key, value in filter_.items():
            if key.startswith("$"):
                yield from self._operator("query", key)
                if key in ("$and", "$or", "$nor") and isinstance(value, list):
                    for clause in value:
                        yield from self._query(clause)
                elif key == "$expr":
                    yield from self._expression(value)
            elif isinstance(value, Mapping) and any(k.startswith("$") for k in value):
                yield from self._field_condition(value)

    def _field_condition(self, condition: Mapping[str, Any]) -> Iterator[str]:
        for key, value in condition.items():
            if key == "$options" and "$regex" in condition:
                continue  # the flags of $regex
            yield from self._operator("query", key)
            if key == "$elemMatch" and isinstance(value, Mapping):
                if any(k.startswith("$") for k in value):
                    yield from self._field_condition(value)
                else:
                    yield from self._query(value)
            elif key == "$not" and isinstance(value, Mapping):
                yield from self._field_condition(value)

    def _update(self, update: Any) -> Iterator[str]:
        if isinstance(update, list):  # an update with an aggregation pipeline
            yield from self._pipeline(update)
            return
        if not isinstance(update, Mapping):
            return
        for key, value in update.items():
            if not key.startswith("$"):
                continue  # a replacement document
            yield from self._operator("update", key)
            yield from self._inner_operators("update", value)  # $each, $position, ...

    def _projection(self, projection: Any) -> Iterator[str]:
        yield from self._inner_operators("projection", projection)

    def _inner_operators(self, context: str, fields: Any) -> Iterator[str]:
        """The operators one level down: `{field: {$op: ...}}` as in updates and projections."""
        if not isinstance(fields, Mapping):
            return
        for value in fields.values():
            if isinstance(value, Mapping):
                for key in value:
                    if key.startswith("$"):
                        yield from self._operator(context, key)

    def _pipeline(self, pipeline: Any) -> Iterator[str]:
        if not isinstance(pipeline, list):
            return
        for stage in pipeline:
            if not isinstance(stage, Mapping):
                continue
            for key, value in stage.items():
                yield from self._operator("stage", key)
                if key == "$match":
                    yield from self._query(value)
                elif key in ("$lookup", "$facet", "$unionWith"):
                    if isinstance(value, Mapping) and isinstance(value.get("pipeline"), list):
                        yield from self._pipeline(value["pipeline"])
                elif key not in ("$sort", "$limit", "$skip", "$count", "$unwind", "$sample"):
                    yield from self._expression(value)

    def _expression(self, value: Any) -> Iterator[str]:
        if isinstance(value, Mapping):
            for key, inner in value.items():
                if key.startswith("$"):
                    yield from self._operator("expression", key)
                yield from self._expression(inner)
        elif isinstance(value, list):
            for inner in value:
                yield from self._expression(inner)
        elif isinstance(value, str) and value.startswith("$$"):
            variable = value[2:].split(".", 1)[0]
            if variable.isupper():  # system variables; user ones come from $let/$map
                yield from self._operator("expression", f"$${variable}")

    def _index(self, index: Mapping[str, Any]) -> Iterator[str]:
        for key_type in index.get("key", {}).values():
            type_name = str(int(key_type)) if isinstance(key_type, int | float) else str(key_type)
            supported = self.table.index_key_types.get(type_name)
            if supported is None:
                yield f"index key type `{type_name}` is not in the {ENGINE} table"
            elif not supported:
                yield f"index key type `{type_name}` is not supported by {ENGINE}"
        for option in index:
            if option == "key":
                continue
            supported = self.table.index_options.get(option)
            if supported is None:
                yield f"index option `{option}` is not in the {ENGINE} table"
            elif not supported:
                yield f"index option `{option}` is not supported by {ENGINE}"
        partial = index.get("partialFilterExpression")
        if isinstance(partial, Mapping):
            yield from self._query(partial)
            yield from partial_problems(partial, ENGINE)
            if index.get("sparse"):
                yield "a partial index cannot also be sparse on DocumentDB (partial-index.html)"
        if "expireAfterSeconds" in index and len(index.get("key", {})) != 1:
            yield "`expireAfterSeconds` on a compound index: TTL indexes are single-field"


def _parts(name: str, command: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """The parts of a command to walk, each with the context it is read in."""
    if name in ("find", "count", "distinct"):
        yield "query", command.get("filter", command.get("query"))
        yield "projection", command.get("projection")
    elif name == "findAndModify":
        yield "query", command.get("query")
        yield "update", command.get("update")
        yield "projection", command.get("fields")
    elif name == "update":
        for statement in command.get("updates", []):
            yield "query", statement.get("q")
            yield "update", statement.get("u")
            for array_filter in statement.get("arrayFilters", []):
                yield "query", array_filter
    elif name == "delete":
        for statement in command.get("deletes", []):
            yield "query", statement.get("q")
    elif name == "aggregate":
        yield "pipeline", command.get("pipeline")


def _is_equality(value: Any) -> bool:
    if not isinstance(value, Mapping):
        return True
    if "$eq" in value:
        return True
    return not any(key.startswith("$") for key in value)  # an embedded-document match


def _asks_exists(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get("$exists") is True


def canonical(key: str, value: Any) -> str:
    """One top-level clause of a filter as comparable text."""
    return json.dumps({key: value}, sort_keys=True, default=str)


NEGATION_OPERATORS: Final = ("$ne", "$nin", "$not", "$elemMatch")


def negations(filter_: Any, field: str = "(top level)") -> Iterator[tuple[str, str]]:
    """(operator, field) of each negation: `$ne`, `$nin`, `$not`, `$nor`, `$elemMatch` and
    `$exists: false`, at any depth of `$and`/`$or`."""
    if not isinstance(filter_, Mapping):
        return
    for key, value in filter_.items():
        if key == "$nor":
            yield "$nor", field
        elif key in ("$and", "$or") and isinstance(value, list):
            for clause in value:
                yield from negations(clause, field)
        elif not key.startswith("$") and isinstance(value, Mapping):
            for operator, argument in value.items():
                if operator in NEGATION_OPERATORS:
                    yield operator, key
                elif operator == "$exists" and not argument:
                    yield "$exists: false", key


def query_shape(name: str, command: Mapping[str, Any]) -> QueryShape | None:
    """The shape an index must serve, for the commands that select documents."""
    collection = command.get(name)
    if not isinstance(collection, str):
        return None
    sort: Mapping[str, Any] = {}
    filter_: Any
    if name in ("find", "count", "distinct"):
        filter_ = command.get("filter", command.get("query")) or {}
        sort = command.get("sort") or {}
    elif name == "findAndModify":
        filter_ = command.get("query") or {}
        sort = command.get("sort") or {}
    elif name in ("update", "delete"):
        statements = command.get("updates" if name == "update" else "deletes", [])
        if len(statements) != 1:
            return None  # bulk writes: each statement would be its own shape
        filter_ = statements[0].get("q") or {}
    elif name == "aggregate":
        stages = [s for s in command.get("pipeline", []) if isinstance(s, Mapping)]
        filter_ = stages[0].get("$match", {}) if stages else {}
        following = stages[1] if len(stages) > 1 else {}
        sort = following.get("$sort", {}) if "$match" in (stages[0] if stages else {}) else {}
    else:
        return None
    if not isinstance(filter_, Mapping):
        return None
    equality: set[str] = set()
    other: set[str] = set()
    for key, value in filter_.items():
        if key.startswith("$"):
            other.add(key)
        elif _is_equality(value):
            equality.add(key)
        else:
            other.add(key)
    return QueryShape(
        collection=collection,
        command=name,
        equality=frozenset(equality),
        sort=tuple((key, int(direction)) for key, direction in sort.items()),
        other=frozenset(other),
        exists=frozenset(key for key, value in filter_.items() if _asks_exists(value)),
        negations=frozenset(negations(filter_)),
        clauses=frozenset(canonical(key, value) for key, value in filter_.items()),
    )


SERVICE_DIR: Final = str(Path(__file__).resolve().parents[2] / "service") + "/"


def _sent_by_service() -> bool:
    """Whether the command comes from the service's code: its frames (an async call's whole
    await chain is on the stack while it runs) include one under service/."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename.startswith(SERVICE_DIR):
            return True
        frame = frame.f_back
    return False


@dataclass
class Recorder(monitoring.CommandListener):
    """Checks each command as it starts and keeps the findings and query shapes, per test."""

    checker: Checker
    current_test: str = OUTSIDE_TESTS
    findings: list[Finding] = field(default_factory=list)
    shapes: dict[QueryShape, set[str]] = field(default_factory=dict)
    # The shapes the service's own code sent (not a test's assertion query): what
    # docs/data-model.md's "Query shapes" must list.
    service_shapes: set[QueryShape] = field(default_factory=set)
    commands_seen: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name = event.command_name
        command = event.command
        problems = self.checker.check(name, command)
        shape = query_shape(name, command)
        with self.lock:
            self.commands_seen += 1
            test = self.current_test
            self.findings.extend(Finding(test, name, problem) for problem in problems)
            if shape is not None:
                self.shapes.setdefault(shape, set()).add(test)
                if _sent_by_service():
                    self.service_shapes.add(shape)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def take_findings(self, test: str) -> list[Finding]:
        with self.lock:
            mine = [finding for finding in self.findings if finding.test == test]
            self.findings = [finding for finding in self.findings if finding.test != test]
        return mine


# Registered at import, before any client exists: listeners apply to clients created later.
RECORDER: Final = Recorder(Checker(SupportTable.load()))
monitoring.register(RECORDER)


# The index-coverage test reads what the whole session recorded, so it runs last.
LAST_TESTS: Final = (
    "test_index_coverage.py::test_every_recorded_query_is_served_by_a_declared_index",
    "test_index_coverage.py::test_the_data_model_doc_lists_every_query_shape_the_service_sends",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    last = [item for item in items if item.nodeid.endswith(LAST_TESTS)]
    if last:
        items[:] = [item for item in items if item not in last] + last


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    RECORDER.current_test = item.nodeid
    try:
        return (yield)
    finally:
        RECORDER.current_test = OUTSIDE_TESTS


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    findings = RECORDER.take_findings(item.nodeid)
    if findings:
        listed = "\n".join(f"  - {finding.what} (in `{finding.command}`)" for finding in findings)
        pytest.fail(
            f"{item.nodeid} sent what Amazon {ENGINE} does not support "
            f"(table: tests/docdb/{TABLE_PATH.name}):\n{listed}",
            pytrace=False,
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    left = RECORDER.take_findings(OUTSIDE_TESTS)
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = "\n".join(f"  - {finding}" for finding in left)
        message = f"DocumentDB gate: commands sent outside any test are unsupported:\n{lines}"
        if reporter is not None:
            reporter.write_line(message, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
