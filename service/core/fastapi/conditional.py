"""Conditional writes over HTTP: a representation's version is its ETag; a write names the
version it changes in If-Match (RFC 9110, 13.1.1), and a stale one is a 412."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header

from service.core.exceptions import IfMatchRequiredError, VersionMismatchError

IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=64)]

STALE_RESPONSES: dict[int | str, dict[str, Any]] = {
    412: {"description": "Changed since the If-Match version (version_mismatch)"},
}
IF_MATCH_RESPONSES: dict[int | str, dict[str, Any]] = {
    **STALE_RESPONSES,
    428: {"description": "If-Match is required (if_match_required)"},
}


def etag(version: int) -> str:
    """The strong ETag of a version."""
    return f'"{version}"'


def expected_version(if_match: str | None, *, required: bool) -> int | None:
    """The version an If-Match names; None for `*` or (when optional) no header."""
    if if_match is None:
        if required:
            raise IfMatchRequiredError("Send If-Match with the ETag of what you change")
        return None
    value = if_match.strip()
    if value == "*":
        return None
    value = value.removeprefix("W/").strip('"')
    if not value.isdigit():
        raise VersionMismatchError("If-Match does not name a version of this resource")
    return int(value)
