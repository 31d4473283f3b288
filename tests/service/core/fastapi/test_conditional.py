"""If-Match parsing: a number past BSON's int64 names no version (412), never a driver error."""

from __future__ import annotations

import pytest

from service.core.exceptions import VersionMismatchError
from service.core.fastapi.conditional import parse_if_match


@pytest.mark.parametrize(
    "value", ['"9223372036854775808"', "W/808407222288247446809473680817148502"]
)
def test_a_version_beyond_int64_is_a_mismatch(value: str) -> None:
    with pytest.raises(VersionMismatchError):
        parse_if_match(value)


def test_the_largest_int64_is_a_version() -> None:
    assert parse_if_match('"9223372036854775807"') == 2**63 - 1
    assert parse_if_match("*") is None
