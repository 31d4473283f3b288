"""DocumentDB's index-use rules, applied to the query shapes the gate recorded.

The local server uses no secondary index at all, so index use cannot be observed here; these
are the production planner's rules as AWS documents them, each with its page:

- NEGATIONS: "Amazon DocumentDB does not currently support the ability to use indexes with the
  $ne, $nin, $nor, $not, $exists, and $elemMatch operators" (Functional differences, "Indexes"
  / "$ne, $nin, $nor, $not, $exists, and $elemMatch indexing"; query planner v2 and v3 pages:
  planner 2.0 and 3.0 add index scans only for `$ne`, `$nin`, `$not {$eq}`, `$not {$in}` and
  nested `$elemMatch`, so a shape is held to the strict rule whatever the planner, and
  `$exists: true` is allowed only as the key that opens a sparse or partial index).
  https://docs.aws.amazon.com/documentdb/latest/developerguide/functional-differences.html
- SPARSE: "For a query to utilize a sparse index, you must use the $exists clause on the
  indexed fields. If you omit the $exists clause, Amazon DocumentDB will not use the sparse
  index." (Index property: sparse)
  https://docs.aws.amazon.com/documentdb/latest/developerguide/index-property-sparse.html
- PARTIAL: a partial index serves a query whose filter contains the partial filter expression
  (the query's result is a logical subset of it); `$gt/$gte/$lt/$lte` in the expression only
  when the query repeats it exactly (Partial index, "Query using a partial index").
  https://docs.aws.amazon.com/documentdb/latest/developerguide/partial-index.html
- PREFIX: a compound index serves the equality fields (any order) and then the sort, in the
  index's order or the reverse, as its prefix; with no sort, a range leads the index.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pymongo import IndexModel

from tests.docdb.gate import QueryShape, canonical

Keys = tuple[tuple[str, int], ...]
ID_INDEX_KEYS: Keys = (("_id", 1),)

FUNCTIONAL_DIFFERENCES: Final = (
    "https://docs.aws.amazon.com/documentdb/latest/developerguide/functional-differences.html"
)
SPARSE_PAGE: Final = (
    "https://docs.aws.amazon.com/documentdb/latest/developerguide/index-property-sparse.html"
)
PARTIAL_PAGE: Final = (
    "https://docs.aws.amazon.com/documentdb/latest/developerguide/partial-index.html"
)


@dataclass(frozen=True)
class Index:
    name: str
    keys: Keys
    sparse: bool = False
    # The partial filter expression's top-level clauses, canonical (`gate.canonical`).
    partial: frozenset[str] = frozenset()

    @classmethod
    def of(cls, model: IndexModel) -> Index:
        spec = model.document
        return cls(
            name=spec["name"],
            keys=tuple((field, int(direction)) for field, direction in spec["key"].items()),
            sparse=bool(spec.get("sparse")),
            partial=frozenset(_clauses(spec.get("partialFilterExpression") or {})),
        )


ID_INDEX: Final = Index("_id_", ID_INDEX_KEYS)


def _clauses(expression: Mapping[str, Any]) -> Iterator[str]:
    for key, value in expression.items():
        if key == "$and" and isinstance(value, list):
            for clause in value:
                yield from _clauses(clause)
        else:
            yield canonical(key, value)


def indexes_of(models: Iterable[IndexModel]) -> list[Index]:
    return [ID_INDEX, *(Index.of(model) for model in models)]


def _same_direction(wanted: Sequence[tuple[str, int]], keys: Sequence[tuple[str, int]]) -> bool:
    if [f for f, _ in wanted] != [f for f, _ in keys]:
        return False
    forward = all(w == k for (_, w), (_, k) in zip(wanted, keys, strict=True))
    backward = all(w == -k for (_, w), (_, k) in zip(wanted, keys, strict=True))
    return forward or backward  # an index is read either way


def prefix_serves(shape: QueryShape, keys: Keys) -> bool:
    """PREFIX: equality fields (any order), then the sort (in order, one direction)."""
    if "_id" in shape.equality:
        return keys == ID_INDEX_KEYS
    n = len(shape.equality)
    prefix = keys[:n]
    if len(prefix) < n or {field for field, _ in prefix} != shape.equality:
        return False
    if not shape.sort:
        # Nothing to sort: with no equality either, a range must lead the index.
        return n > 0 or (len(keys) > 0 and keys[0][0] in shape.other)
    following = keys[n : n + len(shape.sort)]
    return len(following) == len(shape.sort) and _same_direction(shape.sort, following)


def refusal(shape: QueryShape, index: Index) -> str | None:
    """Why DocumentDB would not serve `shape` from `index`; None when it would."""
    if not prefix_serves(shape, index.keys):
        return f"`{index.name}` does not have the equality fields, then the sort, as its prefix"
    if index.sparse:
        missing = sorted({field for field, _ in index.keys} - shape.exists)
        if missing:
            return (
                f"`{index.name}` is sparse: DocumentDB uses it only when the query has "
                f"`$exists` on {', '.join(missing)} ({SPARSE_PAGE})"
            )
    if index.partial and not index.partial <= shape.clauses:
        return (
            f"`{index.name}` is partial: DocumentDB uses it only when the query contains its "
            f"filter expression ({PARTIAL_PAGE})"
        )
    return None


def problems(shape: QueryShape, indexes: Sequence[Index]) -> list[str]:
    """Every rule `shape` breaks on DocumentDB with these indexes; empty when index-served."""
    found = [
        f"`{operator}` on {field}: DocumentDB uses no index for it ({FUNCTIONAL_DIFFERENCES})"
        for operator, field in sorted(shape.negations)
    ]
    refusals = [refusal(shape, index) for index in indexes]
    if all(reason is not None for reason in refusals):
        # Name what kept the nearest candidates out: those that had the prefix.
        near = [r for r in refusals if r is not None and "prefix" not in r]
        found += near or ["no index has the equality fields, then the sort, as its prefix"]
    return found


def served_by(shape: QueryShape, indexes: Sequence[Index]) -> Index | None:
    """The index DocumentDB serves `shape` from, if any (and no negation keeps it off)."""
    if shape.negations:
        return None
    return next((index for index in indexes if refusal(shape, index) is None), None)
