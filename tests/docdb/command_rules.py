"""The DocumentDB gate's rules for command options the support table cannot express by name.

From "Supported MongoDB APIs, operations, and data types in Amazon DocumentDB" (collMod is
"Partial": only `collMod: expireAfterSeconds` is Yes) and the Partial index page (supported
operators of a partial filter expression).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

PARTIAL_OPERATORS: Final = frozenset({"$eq", "$exists", "$gt", "$gte", "$lt", "$lte"})


def partial_problems(
    expression: Mapping[str, Any], engine: str, *, top: bool = True
) -> Iterator[str]:
    """DocumentDB's partial filter expressions: `$eq`, `$exists`, `$gt/$gte/$lt/$lte` and a
    top-level `$and` only (partial-index.html, "Supported operators")."""
    for key, value in expression.items():
        if key == "$and" and top and isinstance(value, list):
            for clause in value:
                if isinstance(clause, Mapping):
                    yield from partial_problems(clause, engine, top=False)
        elif key.startswith("$"):
            yield f"`{key}` in a partial filter expression: {engine} does not support it"
        elif isinstance(value, Mapping):
            for operator in value:
                if operator.startswith("$") and operator not in PARTIAL_OPERATORS:
                    yield f"`{operator}` in a partial filter expression: not supported by {engine}"


# collMod is "Partial" on the page: only "collMod: expireAfterSeconds" of a TTL index is Yes.
COLLMOD_INDEX_FIELDS: Final = frozenset({"keyPattern", "name", "expireAfterSeconds"})
COLLMOD_UNSUPPORTED: Final = frozenset(
    {
        "validator",
        "validationLevel",
        "validationAction",
        "viewOn",
        "pipeline",
        "expireAfterSeconds",  # top level: a time-series collection's
        "timeseries",
        "changeStreamPreAndPostImages",
        "recordPreImages",
        "cappedSize",
        "cappedMax",
    }
)


def collmod_problems(command: Mapping[str, Any], engine: str) -> Iterator[str]:
    for option in sorted(COLLMOD_UNSUPPORTED & set(command)):
        yield f"collMod option `{option}` is not supported by {engine}"
    index = command.get("index")
    if isinstance(index, Mapping):
        for field_name in sorted(set(index) - COLLMOD_INDEX_FIELDS):
            yield f"collMod index option `{field_name}` is not supported by {engine}"
