"""Every query the test suite sent to a service collection is index-served under DocumentDB's rules.

The shapes come from the DocumentDB gate's recording of the whole session (this test runs last);
the indexes from the index plan the migrations create (`index_plan()`); the rules, with their
AWS pages, from tests/docdb/planner.py: no negation, the equality fields then the sort as an
index's prefix, `$exists` on a sparse index's fields, a partial index's expression in the filter.
"""

from __future__ import annotations

import re
from pathlib import Path

from pymongo import ASCENDING, DESCENDING, IndexModel

from service.app.server import index_plan
from tests.docdb.gate import RECORDER, QueryShape, query_shape
from tests.docdb.planner import Index, indexes_of, problems, served_by
from tests.service.app.users.test_data_model_doc import doc_of


def shape_of(filter_: dict[str, object], sort: dict[str, int] | None = None) -> QueryShape:
    command: dict[str, object] = {"find": "files", "filter": filter_}
    if sort:
        command["sort"] = sort
    shape = query_shape("find", command)
    assert shape is not None
    return shape


def uncovered(
    shapes: dict[QueryShape, set[str]], plan: dict[str, list[Index]]
) -> list[tuple[QueryShape, set[str], list[str]]]:
    found = []
    for shape, tests in shapes.items():
        if shape.collection in plan:
            broken = problems(shape, plan[shape.collection])
            if broken:
                found.append((shape, tests, broken))
    return found


def describe(shape: QueryShape, tests: set[str], broken: list[str]) -> str:
    sort = ", ".join(f"{field} {direction:+d}" for field, direction in shape.sort) or "none"
    why = "\n      ".join(broken)
    return (
        f"{shape.command} on {shape.collection}: equality {sorted(shape.equality) or 'none'}, "
        f"sort {sort}, other {sorted(shape.other) or 'none'}; sent by {sorted(tests)[:3]}\n"
        f"      {why}"
    )


PLAN = {
    "files": indexes_of(
        [
            IndexModel([("owner_id", 1), ("created_at", -1), ("_id", -1)], name="owner_created"),
            IndexModel([("sub", ASCENDING)], name="sub_unique", unique=True, sparse=True),
            IndexModel(
                [("state", ASCENDING), ("at", DESCENDING)],
                name="open_at",
                partialFilterExpression={"state": {"$eq": "open"}},
            ),
        ]
    )
}


def test_the_prefix_rule_on_known_shapes() -> None:
    listing = shape_of({"owner_id": "o"}, {"created_at": -1, "_id": -1})
    by_id = shape_of({"_id": "f", "owner_id": "o", "status": {"$in": ["a"]}})
    reversed_sort = shape_of({"owner_id": "o"}, {"created_at": 1, "_id": 1})
    mixed_sort = shape_of({"owner_id": "o"}, {"created_at": -1, "_id": 1})
    by_status = shape_of({"status": "a"})
    whole = shape_of({})
    shapes = {s: {"t"} for s in (listing, by_id, reversed_sort, mixed_sort, by_status, whole)}
    assert [shape for shape, _, _ in uncovered(shapes, PLAN)] == [mixed_sort, by_status, whole]


def test_negations_are_never_index_served() -> None:
    # The `$not` of files' old liveness filter and the `$nor` of the old keyset residual.
    live = shape_of({"_id": "f", "expires_at": {"$not": {"$lte": 1}}})
    page = shape_of(
        {"owner_id": "o", "created_at": {"$lte": 1}, "$nor": [{"created_at": 1, "_id": "f"}]},
        {"created_at": -1, "_id": -1},
    )
    for shape, operator in ((live, "$not"), (page, "$nor")):
        assert any(f"`{operator}`" in problem for problem in problems(shape, PLAN["files"]))
    for negation in ({"$ne": 1}, {"$nin": [1]}, {"$exists": False}, {"$elemMatch": {"a": 1}}):
        assert problems(shape_of({"owner_id": "o", "x": negation}), PLAN["files"])
    assert problems(shape_of({"owner_id": "o", "$or": [{"x": {"$ne": 1}}]}), PLAN["files"])


def test_a_sparse_index_serves_only_a_query_with_exists_on_its_field() -> None:
    bare = problems(shape_of({"sub": "s"}), PLAN["files"])
    assert any("sparse" in problem and "sub" in problem for problem in bare), bare
    assert problems(shape_of({"sub": {"$eq": "s", "$exists": True}}), PLAN["files"]) == []


def test_a_partial_index_serves_only_a_query_containing_its_expression() -> None:
    assert any(
        "partial" in problem
        for problem in problems(shape_of({"state": "open"}, {"at": -1}), PLAN["files"])
    )
    contained = shape_of({"state": {"$eq": "open"}}, {"at": -1})
    assert problems(contained, PLAN["files"]) == []


def test_every_recorded_query_is_served_by_a_declared_index() -> None:
    plan = {collection: indexes_of(models) for collection, models in index_plan().items()}
    missing = uncovered(RECORDER.shapes, plan)
    # Shapes differ by their values too (partial filters compare them): report each kind once.
    kinds: dict[tuple[object, ...], tuple[QueryShape, set[str], list[str]]] = {}
    for shape, tests, broken in missing:
        key = (shape.collection, shape.command, shape.equality, shape.sort, shape.other, *broken)
        kinds.setdefault(key, (shape, set(), broken))[1].update(tests)
    report = "\n".join(sorted(f"  - {describe(*kind)}" for kind in kinds.values()))
    assert not missing, f"queries DocumentDB would not serve from an index:\n{report}"


DOC = Path(__file__).resolve().parents[2] / "docs" / "data-model.md"
ROW = re.compile(r"^\| `(?P<collection>\w+)` \| `(?P<shape>[^`]+)` \| `(?P<index>\w+)` \|", re.M)


def signature(shape: QueryShape) -> str:
    """A shape as docs/data-model.md writes it: `= equality; exists f; ~ other; sort f -1`."""
    parts = []
    if shape.equality:
        parts.append("= " + ", ".join(sorted(shape.equality)))
    if shape.exists:
        parts.append("exists " + ", ".join(sorted(shape.exists)))
    other = sorted(shape.other - shape.equality)
    if other:
        parts.append("~ " + ", ".join(other))
    if shape.sort:
        parts.append(
            "sort " + ", ".join(f"{field} {direction:+d}" for field, direction in shape.sort)
        )
    return "; ".join(parts) or "(every document)"


def documented_shapes(doc: Path = DOC) -> dict[tuple[str, str], str]:
    """The "Query shapes" table of `doc` (a module with its own data-model.md keeps its own)."""
    text = doc.read_text()
    start = text.find("## Query shapes")
    if start == -1:
        return {}
    end = text.find("\n## ", start + 1)
    section = text[start : end if end != -1 else len(text)]
    return {(m["collection"], m["shape"]): m["index"] for m in ROW.finditer(section)}


def test_the_data_model_doc_lists_every_query_shape_the_service_sends() -> None:
    plan = {collection: indexes_of(models) for collection, models in index_plan().items()}
    documented: dict[tuple[str, str], str] = {}
    for doc in {doc_of(collection) for collection in plan}:
        documented.update(documented_shapes(doc))
    wanted: dict[tuple[str, str], str] = {}
    for shape in RECORDER.service_shapes:
        if shape.collection in plan:
            index = served_by(shape, plan[shape.collection])
            wanted[(shape.collection, signature(shape))] = index.name if index else "(none)"
    wrong = {key: index for key, index in wanted.items() if documented.get(key) != index}
    rows = "\n".join(
        f"| `{collection}` | `{shape}` | `{index}` |"
        for (collection, shape), index in sorted(wrong.items())
    )
    assert not wrong, (
        f"docs/data-model.md, 'Query shapes', lacks or misnames (add the rule):\n{rows}"
    )
