"""The one cursor codec: what it issues decodes back; anything else is a 400 `invalid_cursor`."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest

from service.core.exceptions import BadRequestError, InvalidCursorError
from service.core.pagination import Cursor, decode_cursor, encode_cursor


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# Cursors no listing issued: also sent to every route that takes one.
BAD_CURSORS = [
    "!!",
    "bogus",
    b64(b"\xff\xfe\xfd"),
    b64(b"[1, 2]"),
    b64(b'"t"'),
    b64(b'{"t": "2026-01-01T00:00:00", "i": "x"}'),  # a naive time
    b64(b'{"t": "2026-01-01T00:00:00+00:00", "i": 5}'),  # a non-string id
    b64(b'{"t": 5, "i": "x"}'),
    b64(b'{"i": "x"}'),
    b64(b'{"t": "yesterday", "i": "x"}'),
]


@pytest.mark.parametrize(
    "cursor",
    [
        Cursor(datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC), "a-id"),
        Cursor(datetime(2026, 1, 2, tzinfo=timezone(timedelta(hours=2))), "é/ü+"),
    ],
)
def test_an_issued_cursor_decodes_to_the_same_position(cursor: Cursor) -> None:
    encoded = encode_cursor(cursor)
    assert not set(encoded) & set("=+/")  # URL-safe, unpadded
    assert decode_cursor(encoded) == cursor


@pytest.mark.parametrize("value", BAD_CURSORS)
def test_a_cursor_not_issued_is_invalid_cursor_400(value: str) -> None:
    with pytest.raises(InvalidCursorError) as error:
        decode_cursor(value)
    assert isinstance(error.value, BadRequestError)
    assert (error.value.status, error.value.code) == (400, "invalid_cursor")
