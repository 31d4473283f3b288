"""The DocumentDB gate itself: what it flags, and that it fails the test that sent it."""

from __future__ import annotations

import json
import textwrap

import pytest

from tests.conftest import ROOT
from tests.docdb.gate import RECORDER, TABLE_PATH, Checker, SupportTable, query_shape

CHECKER = Checker(SupportTable.load())


def test_the_table_names_its_source() -> None:
    source = json.loads(TABLE_PATH.read_text())["source"]
    assert source["title"] == (
        "Supported MongoDB APIs, operations, and data types in Amazon DocumentDB"
    )
    assert source["url"].startswith("https://docs.aws.amazon.com/documentdb/")
    assert source["retrieved"]


def test_what_the_service_sends_passes() -> None:
    assert CHECKER.check("find", {"find": "users", "filter": {"email_normalized": "a@b.c"}}) == []
    assert (
        CHECKER.check(
            "findAndModify",
            {
                "findAndModify": "users",
                "query": {"_id": "u1", "version": 3},
                "update": {"$set": {"full_name": "x"}, "$inc": {"version": 1}},
            },
        )
        == []
    )
    count = {
        "aggregate": "files",
        "pipeline": [{"$match": {"owner_id": "o"}}, {"$group": {"_id": 1, "n": {"$sum": 1}}}],
    }
    assert CHECKER.check("aggregate", count) == []


@pytest.mark.parametrize(
    ("name", "command", "expected"),
    [
        ("find", {"find": "c", "filter": {"$where": "this.a > 1"}}, "`$where` is not supported"),
        (
            "find",
            {"find": "c", "filter": {"a": {"$elemMatch": {"b": {"$near": [0, 0]}}}}},
            "`$near` is not supported",
        ),
        (
            "aggregate",
            {"aggregate": "c", "pipeline": [{"$facet": {"a": [{"$match": {}}]}}]},
            "stage operator `$facet` is not supported",
        ),
        (
            "aggregate",
            {
                "aggregate": "c",
                "pipeline": [
                    {"$project": {"r": {"$function": {"body": "", "args": [], "lang": "js"}}}}
                ],
            },
            "expression operator `$function` is not supported",
        ),
        ("update", {"update": "c", "updates": [{"q": {}, "u": {"$frob": {"a": 1}}}]}, "`$frob`"),
        ("find", {"find": "c", "filter": {}, "let": {"x": 1}}, "`let`"),
        (
            "aggregate",
            {"aggregate": "c", "pipeline": [{"$search": {"text": {"query": "x"}}}]},
            "stage operator `$search` is not supported",
        ),
        (
            "createIndexes",
            {
                "createIndexes": "c",
                "indexes": [
                    {"key": {"a": 1}, "name": "a", "partialFilterExpression": {"a": {"$in": [1]}}}
                ],
            },
            "`$in` in a partial filter expression",
        ),
        (
            "createIndexes",
            {
                "createIndexes": "c",
                "indexes": [
                    {
                        "key": {"a": 1},
                        "name": "a",
                        "partialFilterExpression": {"$or": [{"a": {"$eq": 1}}]},
                    }
                ],
            },
            "`$or` in a partial filter expression",
        ),
        (
            "createIndexes",
            {
                "createIndexes": "c",
                "indexes": [
                    {
                        "key": {"a": 1},
                        "name": "a",
                        "sparse": True,
                        "partialFilterExpression": {"a": {"$exists": True}},
                    }
                ],
            },
            "cannot also be sparse",
        ),
        (
            "createIndexes",
            {
                "createIndexes": "c",
                "indexes": [{"key": {"a": 1, "b": 1}, "name": "ab", "expireAfterSeconds": 60}],
            },
            "`expireAfterSeconds` on a compound index",
        ),
        (
            "createIndexes",
            {
                "createIndexes": "c",
                "indexes": [{"key": {"t": "text"}, "name": "t", "default_language": "en"}],
            },
            "index option `default_language` is not supported",
        ),
        ("collMod", {"collMod": "c", "validator": {}}, "collMod option `validator`"),
        (
            "collMod",
            {"collMod": "c", "index": {"name": "a", "hidden": True}},
            "collMod index option `hidden`",
        ),
        ("listCollections", {"listCollections": 1, "filter": {"name": "c"}}, "with a filter"),
        (
            "createIndexes",
            {"createIndexes": "c", "indexes": [{"key": {"a": 1}, "name": "a", "hidden": True}]},
            "index option `hidden` is not supported",
        ),
        ("mapReduce", {"mapReduce": "c"}, "command `mapReduce` is not supported"),
        ("frobnicate", {"frobnicate": 1}, "command `frobnicate` is not in the DocumentDB 8.0"),
    ],
)
def test_unsupported_features_are_named(
    name: str, command: dict[str, object], expected: str
) -> None:
    problems = CHECKER.check(name, command)
    assert any(expected in problem for problem in problems), problems


def test_what_docdb_allows_in_the_corrected_entries_passes() -> None:
    ttl = {"key": {"at": 1}, "name": "at_ttl", "expireAfterSeconds": 60}
    partial = {
        "key": {"a": 1},
        "name": "a",
        "partialFilterExpression": {"$and": [{"a": {"$exists": True}}, {"b": {"$gt": 1}}]},
    }
    assert CHECKER.check("createIndexes", {"createIndexes": "c", "indexes": [ttl, partial]}) == []
    resize = {"collMod": "c", "index": {"name": "at_ttl", "expireAfterSeconds": 30}}
    assert CHECKER.check("collMod", resize) == []
    assert CHECKER.check("listCollections", {"listCollections": 1, "nameOnly": True}) == []


def test_query_shapes_separate_equality_from_ranges_and_keep_the_sort() -> None:
    shape = query_shape(
        "find",
        {
            "find": "files",
            "filter": {"owner_id": "o", "status": {"$in": ["a"]}, "created_at": {"$lte": 1}},
            "sort": {"created_at": -1, "_id": -1},
        },
    )
    assert shape is not None
    assert shape.equality == {"owner_id"}
    assert shape.sort == (("created_at", -1), ("_id", -1))
    assert shape.other == {"status", "created_at"}


def test_the_recorder_sees_every_client(stack_env: dict[str, str]) -> None:
    # Registered before any client exists: a gate that saw nothing would pass everything.
    pymongo = pytest.importorskip("pymongo")
    before = RECORDER.commands_seen
    with pymongo.MongoClient(stack_env["MONGODB_URL"], serverSelectionTimeoutMS=5000) as client:
        client.gate_probe.items.find_one({"a": 1})
    assert RECORDER.commands_seen > before


def test_an_unsupported_operator_fails_the_test_that_sent_it(
    pytester: pytest.Pytester, stack_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("GATE_MONGODB_URL", stack_env["MONGODB_URL"])
    pytester.makepyfile(
        test_sender=textwrap.dedent(
            """
            import os

            import pymongo
            from pymongo.errors import OperationFailure


            def test_uses_plain_equality():
                with pymongo.MongoClient(os.environ["GATE_MONGODB_URL"]) as client:
                    client.gate_probe.items.find_one({"a": 1})


            def test_sends_where():
                with pymongo.MongoClient(os.environ["GATE_MONGODB_URL"]) as client:
                    try:
                        client.gate_probe.items.find_one({"$where": "this.a == 1"})
                    except OperationFailure:
                        pass  # the local server may refuse it; DocumentDB would too
            """
        )
    )
    result = pytester.runpytest_subprocess("-p", "tests.docdb.gate", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_sends_where*",
            "*test_sender.py::test_sends_where sent what Amazon DocumentDB 8.0 does not support*",
            "*query operator `$where` is not supported by DocumentDB 8.0 (in `find`)*",
        ]
    )
    assert "test_uses_plain_equality sent" not in result.stdout.str()
