"""CloudWatch Logs metric filters run on log lines here: which data point a synthesized
`AWS::Logs::MetricFilter` would publish for a line, so the filters and the lines the service
writes are checked against each other (the rehearsal, tests/infra/test_request_metrics.py).

The JSON filter-pattern syntax as CloudWatch Logs' User Guide gives it ("Filter pattern syntax
for metric filters ... Using filter patterns to match terms in JSON log events"), the part a
filter of ours may use: `{ <comparison> }`, comparisons `$.field <op> <value>` joined by `&&`
and `||` with parentheses; `=` and `!=` compare strings (quoted) or numbers, `<`, `<=`, `>`,
`>=` numbers only; a field the event lacks matches nothing. Anything else is refused with
FilterError, so a filter this reader does not understand cannot pass unchecked.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<paren>[()])|(?P<join>&&|\|\|)|(?P<op>!=|<=|>=|=|<|>)"
    r'|(?P<selector>\$(?:\.[A-Za-z_][A-Za-z0-9_]*)+)|(?P<string>"(?:[^"\\]|\\.)*")'
    r"|(?P<number>-?\d+(?:\.\d+)?))"
)


class FilterError(ValueError):
    """A pattern or transformation this reader (or CloudWatch) does not accept."""


@dataclass(frozen=True)
class Datum:
    namespace: str
    name: str
    unit: str | None
    dimensions: dict[str, str]
    value: float


def _tokens(pattern: str) -> list[tuple[str, str]]:
    text = pattern.strip()
    if not (text.startswith("{") and text.endswith("}")):
        raise FilterError(f"not a JSON filter pattern: {pattern!r}")
    body, position, out = text[1:-1].strip(), 0, []
    while position < len(body):
        match = _TOKEN.match(body, position)
        if match is None or match.end() == position:
            raise FilterError(f"cannot read {body[position:]!r} in {pattern!r}")
        kind = match.lastgroup
        assert kind is not None
        out.append((kind, match.group(kind)))
        position = match.end()
        while position < len(body) and body[position].isspace():
            position += 1
    return out


_MISSING = object()


def _field(event: dict[str, Any], selector: str) -> Any:
    value: Any = event
    for name in selector[2:].split("."):
        if not isinstance(value, dict) or name not in value:
            return _MISSING
        value = value[name]
    return value


class _Parser:
    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.tokens = _tokens(pattern)
        self.at = 0

    def _next(self, *kinds: str) -> str:
        if self.at >= len(self.tokens) or self.tokens[self.at][0] not in kinds:
            raise FilterError(
                f"expected {' or '.join(kinds)} at token {self.at} of {self.pattern!r}"
            )
        self.at += 1
        return self.tokens[self.at - 1][1]

    def parse(self, event: dict[str, Any]) -> bool:
        result = self._expression(event)
        if self.at != len(self.tokens):
            raise FilterError(f"unexpected {self.tokens[self.at][1]!r} in {self.pattern!r}")
        return result

    def _expression(self, event: dict[str, Any]) -> bool:
        result = self._term(event)
        while self.at < len(self.tokens) and self.tokens[self.at][0] == "join":
            join = self._next("join")
            other = self._term(event)
            result = (result and other) if join == "&&" else (result or other)
        return result

    def _term(self, event: dict[str, Any]) -> bool:
        if self.at < len(self.tokens) and self.tokens[self.at] == ("paren", "("):
            self.at += 1
            result = self._expression(event)
            if self._next("paren") != ")":
                raise FilterError(f"unbalanced parentheses in {self.pattern!r}")
            return result
        selector, op = self._next("selector"), self._next("op")
        kind = self.tokens[self.at][0] if self.at < len(self.tokens) else ""
        literal = self._next("string", "number")
        actual = _field(event, selector)
        if kind == "string":
            if op not in ("=", "!="):
                raise FilterError(f"{op} compares numbers only, in {self.pattern!r}")
            if not isinstance(actual, str):
                return False
            expected: str = json.loads(literal)
            return (actual == expected) == (op == "=")
        if isinstance(actual, bool) or not isinstance(actual, int | float):
            return False
        number = float(literal)
        return {
            "=": actual == number,
            "!=": actual != number,
            "<": actual < number,
            "<=": actual <= number,
            ">": actual > number,
            ">=": actual >= number,
        }[op]


def matches(pattern: str, line: str) -> bool:
    """Whether ``pattern`` matches the log event ``line`` (a line that is not a JSON object
    matches no JSON pattern)."""
    try:
        event = json.loads(line)
    except ValueError:
        return False
    if not isinstance(event, dict):
        return False
    return _Parser(pattern).parse(event)


def publish(properties: dict[str, Any], line: str) -> list[Datum]:
    """The data points an `AWS::Logs::MetricFilter` with ``properties`` (as synthesized)
    publishes for ``line``: none when it does not match. A matched line whose value or a
    dimension's field is missing or of the wrong kind raises FilterError: CloudWatch would
    publish nothing for it, which for our own lines is a defect."""
    if not matches(properties["FilterPattern"], line):
        return []
    event = json.loads(line)
    out = []
    for transformation in properties["MetricTransformations"]:
        reference = transformation["MetricValue"]
        # A number publishes itself (a count); otherwise a field of the event.
        value = (
            float(reference)
            if re.fullmatch(r"-?\d+(\.\d+)?", reference)
            else _reference(event, reference)
        )
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FilterError(f"{transformation['MetricValue']} is not a number in {line}")
        dimensions = {}
        for dimension in transformation.get("Dimensions") or []:
            found = _reference(event, dimension["Value"])
            if not isinstance(found, str | int | float) or isinstance(found, bool):
                raise FilterError(f"dimension {dimension['Key']}: no value in {line}")
            dimensions[dimension["Key"]] = str(found)
        if len(dimensions) > 3:
            raise FilterError("a metric filter publishes at most three dimensions")
        out.append(
            Datum(
                namespace=transformation["MetricNamespace"],
                name=transformation["MetricName"],
                unit=transformation.get("Unit"),
                dimensions=dimensions,
                value=float(value),
            )
        )
    return out


def _reference(event: dict[str, Any], reference: str) -> Any:
    if not re.fullmatch(r"\$(\.[A-Za-z_][A-Za-z0-9_]*)+", reference):
        raise FilterError(f"not a field reference: {reference!r}")
    found = _field(event, reference)
    return None if found is _MISSING else found
