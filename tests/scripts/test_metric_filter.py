"""scripts/rehearse/metric_filter.py: CloudWatch Logs' JSON filter patterns and metric
transformations, as its User Guide gives them, on single log lines."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scripts.rehearse.metric_filter import Datum, FilterError, matches, publish

LINE = json.dumps(
    {"logger": "biwoco.access", "route": "/a/{id}", "status": 503, "duration_ms": 7.5}
)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ('{ $.logger = "biwoco.access" }', True),
        ('{ $.logger != "biwoco.access" }', False),
        ('{ $.logger = "biwoco.error" }', False),
        ("{ $.status >= 500 }", True),
        ("{ $.status > 503 }", False),
        ("{ $.status = 503 }", True),
        ("{ $.duration_ms < 7.5 }", False),
        ("{ $.duration_ms <= 7.5 }", True),
        ('{ ($.logger = "biwoco.access") && ($.status >= 500) }', True),
        ('{ ($.logger = "biwoco.access") && ($.status < 500) }', False),
        ('{ ($.status < 500) || ($.route = "/a/{id}") }', True),
        # A field the event lacks matches nothing, whatever the operator.
        ('{ $.error_type != "x" }', False),
        ("{ $.missing >= 0 }", False),
        # A number field compared with a string, and the reverse, do not match.
        ('{ $.status = "503" }', False),
        ("{ $.logger = 1 }", False),
    ],
)
def test_json_patterns(pattern: str, expected: bool) -> None:
    assert matches(pattern, LINE) is expected


def test_lines_that_are_not_json_objects_match_no_json_pattern() -> None:
    assert not matches('{ $.logger = "biwoco.access" }', "Traceback (most recent call last):")
    assert not matches("{ $.status >= 500 }", "[503]")


@pytest.mark.parametrize(
    "pattern",
    [
        "ERROR",  # a term pattern, not JSON
        '{ $.logger = "a" && }',
        "{ $.status >= 500",
        '{ $.status >= "500" }',  # ordering compares numbers only
        "{ ($.status >= 500 }",
        "{ $.route = %/a/% }",  # regular expressions are not read here
    ],
)
def test_patterns_it_does_not_read_are_refused(pattern: str) -> None:
    with pytest.raises(FilterError):
        matches(pattern, LINE)


def _filter(**transformation: Any) -> dict[str, Any]:
    return {
        "FilterPattern": '{ $.logger = "biwoco.access" }',
        "MetricTransformations": [
            {"MetricNamespace": "N", "MetricName": "m", "MetricValue": "$.duration_ms"}
            | transformation
        ],
    }


def test_a_match_publishes_the_value_and_the_dimensions() -> None:
    props = _filter(Unit="Milliseconds", Dimensions=[{"Key": "http.route", "Value": "$.route"}])
    assert publish(props, LINE) == [Datum("N", "m", "Milliseconds", {"http.route": "/a/{id}"}, 7.5)]
    assert publish(props, json.dumps({"logger": "other"})) == []
    assert publish(_filter(MetricValue="1"), LINE) == [Datum("N", "m", None, {}, 1.0)]


@pytest.mark.parametrize(
    "transformation",
    [
        {"Dimensions": [{"Key": "error.type", "Value": "$.error_type"}]},  # field missing
        {"MetricValue": "$.route"},  # not a number
        {"MetricValue": "1 + $.duration_ms"},  # not a field reference
    ],
)
def test_a_match_without_its_value_or_dimension_is_a_defect(
    transformation: dict[str, Any],
) -> None:
    with pytest.raises(FilterError):
        publish(_filter(**transformation), LINE)
