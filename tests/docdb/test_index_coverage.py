"""Every query the test suite sent to a service collection is served by a declared index.

DocumentDB runs a query as an index scan when its equality fields, then its sort, form a
prefix of one of the collection's indexes (an `_id` equality is the `_id` index's). The
shapes come from the DocumentDB gate's recording of the whole session (this test runs last);
the indexes from the index plan the service creates at start-up (`index_plan()`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pymongo import IndexModel

from service.app.server import index_plan
from tests.docdb.gate import RECORDER, QueryShape

Keys = tuple[tuple[str, int], ...]
ID_INDEX: Keys = (("_id", 1),)


def index_keys(models: Iterable[IndexModel]) -> list[Keys]:
    return [ID_INDEX] + [
        tuple((field, int(direction)) for field, direction in model.document["key"].items())
        for model in models
    ]


def _same_direction(wanted: Sequence[tuple[str, int]], keys: Sequence[tuple[str, int]]) -> bool:
    if [f for f, _ in wanted] != [f for f, _ in keys]:
        return False
    forward = all(w == k for (_, w), (_, k) in zip(wanted, keys, strict=True))
    backward = all(w == -k for (_, w), (_, k) in zip(wanted, keys, strict=True))
    return forward or backward  # an index is read either way


def served_by(shape: QueryShape, keys: Keys) -> bool:
    """Equality fields (any order), then the sort (in order, one direction), as a prefix."""
    if "_id" in shape.equality:
        return keys == ID_INDEX
    n = len(shape.equality)
    prefix = keys[:n]
    if len(prefix) < n or {field for field, _ in prefix} != shape.equality:
        return False
    if not shape.sort:
        # Nothing to sort: with no equality either, a range must lead the index.
        return n > 0 or (len(keys) > 0 and keys[0][0] in shape.other)
    following = keys[n : n + len(shape.sort)]
    return len(following) == len(shape.sort) and _same_direction(shape.sort, following)


def uncovered(
    shapes: dict[QueryShape, set[str]], plan: dict[str, list[Keys]]
) -> list[tuple[QueryShape, set[str]]]:
    return [
        (shape, tests)
        for shape, tests in shapes.items()
        if shape.collection in plan
        and not any(served_by(shape, keys) for keys in plan[shape.collection])
    ]


def describe(shape: QueryShape, tests: set[str]) -> str:
    sort = ", ".join(f"{field} {direction:+d}" for field, direction in shape.sort) or "none"
    return (
        f"{shape.command} on {shape.collection}: equality {sorted(shape.equality) or 'none'}, "
        f"sort {sort}, other {sorted(shape.other) or 'none'}; sent by {sorted(tests)[:3]}"
    )


def test_the_rule_on_known_shapes() -> None:
    plan = {"files": index_keys([IndexModel([("owner_id", 1), ("created_at", -1), ("_id", -1)])])}
    listing = QueryShape(
        "files", "find", frozenset({"owner_id"}), (("created_at", -1), ("_id", -1)), frozenset()
    )
    by_id = QueryShape("files", "find", frozenset({"_id", "owner_id"}), (), frozenset({"status"}))
    reversed_sort = QueryShape(
        "files", "find", frozenset({"owner_id"}), (("created_at", 1), ("_id", 1)), frozenset()
    )
    mixed_sort = QueryShape(
        "files", "find", frozenset({"owner_id"}), (("created_at", -1), ("_id", 1)), frozenset()
    )
    by_status = QueryShape("files", "find", frozenset({"status"}), (), frozenset())
    whole = QueryShape("files", "aggregate", frozenset(), (), frozenset())
    shapes = {s: {"t"} for s in (listing, by_id, reversed_sort, mixed_sort, by_status, whole)}
    assert [shape for shape, _ in uncovered(shapes, plan)] == [mixed_sort, by_status, whole]


def test_every_recorded_query_is_served_by_a_declared_index() -> None:
    plan = {collection: index_keys(models) for collection, models in index_plan().items()}
    missing = uncovered(RECORDER.shapes, plan)
    report = "\n".join(f"  - {describe(shape, tests)}" for shape, tests in missing)
    assert not missing, f"queries no declared index serves as a prefix:\n{report}"
