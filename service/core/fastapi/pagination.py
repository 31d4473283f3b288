"""The query parameters and the documented error of a keyset-paged listing route."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

PageLimit = Annotated[int, Query(ge=1, le=100, description="items per page")]
PageCursor = Annotated[
    str | None,
    Query(max_length=512, description="`next_cursor` of the previous page; none for the first"),
]
# service.core.pagination.decode_cursor raises InvalidCursorError: the same 400 on every route.
INVALID_CURSOR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "invalid_cursor: a cursor this API did not return"}
}
