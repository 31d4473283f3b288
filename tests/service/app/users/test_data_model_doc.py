"""docs/data-model.md names every index the code creates (every module's plan), with the same
keys and options, and the database reports the same indexes after start-up."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pymongo import IndexModel

from service.app.server import index_plan
from service.core.container import CoreContainer

DOC = Path(__file__).resolve().parents[4] / "docs" / "data-model.md"
OPTIONS = ("unique", "sparse")
INDEX = re.compile(r"`(?P<name>\w+)`: `\{(?P<keys>[^}]*)\}`(?P<options>[^|]*)")


def documented(collection: str) -> dict[str, tuple[list[tuple[str, int]], set[str]]]:
    text = DOC.read_text()
    start = text.index(f"### Collection `{collection}`")
    end = text.find("\n## ", start)
    end_sub = text.find("\n### ", start + 1)
    stop = min(e for e in (end, end_sub, len(text)) if e != -1)
    found = {}
    for match in INDEX.finditer(text[start:stop]):
        keys = [
            (name.strip(), int(direction))
            for name, direction in (part.split(":") for part in match["keys"].split(","))
        ]
        found[match["name"]] = (keys, set(match["options"].replace(",", " ").split()))
    return found


def index_options(spec: Mapping[str, Any]) -> set[str]:
    """`unique`, `sparse` and `expireAfterSeconds=N` (a TTL index), as the doc writes them."""
    options = {name for name in OPTIONS if spec.get(name)}
    if "expireAfterSeconds" in spec:
        options.add(f"expireAfterSeconds={spec['expireAfterSeconds']}")
    return options


def planned(model: IndexModel) -> tuple[str, list[tuple[str, int]], set[str]]:
    spec = model.document
    return spec["name"], list(spec["key"].items()), index_options(spec)


def test_the_doc_lists_exactly_the_planned_indexes() -> None:
    for collection, models in index_plan().items():
        doc = documented(collection)
        plan = {name: (keys, options) for name, keys, options in map(planned, models)}
        assert doc == plan, collection


async def test_the_database_has_the_documented_indexes(app: FastAPI) -> None:
    database = await app.state.container.resolve(CoreContainer.database)
    for collection in index_plan():
        info = await database[collection].index_information()
        live = {name: (list(spec["key"]), index_options(spec)) for name, spec in info.items()}
        live.pop("_id_", None)  # a collection nothing was written to yet has no indexes
        assert live == documented(collection), collection
