"""Conditional writes over HTTP: a representation's version is its ETag; a write names the
version it changes in If-Match (RFC 9110, 13.1.1), and a stale one is a 412.

The convention of every module: the route takes `IfMatch` (the header is required, as the
OpenAPI document says; without it FastAPI answers 422 naming it) or `OptionalIfMatch`, both
already parsed into the version they name, None for `If-Match: *` ("whatever it is now"). The
repository resolves None as an unconditional write (`MongoRepository.update_versioned`), so
`*` is resolved in one place, in the same atomic write.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header

from service.core.exceptions import VersionMismatchError

_DESCRIPTION = "The ETag of the version this write changes, or `*` for whatever is current"
# What `parse_if_match` reads: `*`, or a version as an ETag (strong or weak) or bare.
_PATTERN = r'^\s*(\*|(W/)?"?[0-9]+"?)\s*$'

IF_MATCH_RESPONSES: dict[int | str, dict[str, Any]] = {
    412: {"description": "Changed since the If-Match version (version_mismatch)"},
}


def etag(version: int) -> str:
    """The strong ETag of a version."""
    return f'"{version}"'


def parse_if_match(value: str) -> int | None:
    """The version an If-Match value names; None for `*`."""
    value = value.strip()
    if value == "*":
        return None
    value = value.removeprefix("W/").strip('"')
    # Versions are BSON int64: a larger number names no version (and the driver would refuse it).
    if not value.isdigit() or int(value) >= 2**63:
        raise VersionMismatchError("If-Match does not name a version of this resource")
    return int(value)


async def required_if_match(
    if_match: Annotated[
        str,
        Header(alias="If-Match", max_length=64, pattern=_PATTERN, description=_DESCRIPTION),
    ],
) -> int | None:
    return parse_if_match(if_match)


async def optional_if_match(
    if_match: Annotated[
        str | None,
        Header(alias="If-Match", max_length=64, pattern=_PATTERN, description=_DESCRIPTION),
    ] = None,
) -> int | None:
    return parse_if_match(if_match) if if_match is not None else None


# The version a write expects; None: any (`*`, or no header where it is optional).
IfMatch = Annotated[int | None, Depends(required_if_match)]
OptionalIfMatch = Annotated[int | None, Depends(optional_if_match)]
