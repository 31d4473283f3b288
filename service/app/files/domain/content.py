"""Pure rules about file content: magic numbers per content type, and safe download names."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from urllib.parse import quote

# How many leading bytes the signature checks need (and are read for them).
SNIFF_BYTES = 512


def _utf8_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # The sample may cut a multi-byte character at its end; anything earlier is not text.
        return error.start >= len(head) - 3 and error.reason == "unexpected end of data"
    return True


def _prefix(*magics: bytes) -> Callable[[bytes], bool]:
    return lambda head: any(head.startswith(magic) for magic in magics)


_SIGNATURES: dict[str, Callable[[bytes], bool]] = {
    "image/png": _prefix(b"\x89PNG\r\n\x1a\n"),
    "image/jpeg": _prefix(b"\xff\xd8\xff"),
    "image/gif": _prefix(b"GIF87a", b"GIF89a"),
    "image/webp": lambda head: head[:4] == b"RIFF" and head[8:12] == b"WEBP",
    "application/pdf": _prefix(b"%PDF-"),
    "application/zip": _prefix(b"PK\x03\x04", b"PK\x05\x06"),
    "text/plain": _utf8_text,
    "text/csv": _utf8_text,
}

KNOWN_CONTENT_TYPES = frozenset(_SIGNATURES)


def matches_content_type(content_type: str, head: bytes) -> bool:
    """Whether the leading bytes fit the declared type; an unknown type never matches."""
    check = _SIGNATURES.get(content_type)
    return bool(head) and check is not None and check(head)


_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|;]')
MAX_FILENAME_LENGTH = 255


def sanitize_filename(name: str) -> str:
    """A display name safe to echo in headers: no path, control or quoting characters.

    Returns "" when nothing usable is left (the caller decides what that means).
    """
    name = unicodedata.normalize("NFC", name)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    return name[:MAX_FILENAME_LENGTH]


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the RFC 6266/5987 UTF-8 name."""
    safe = sanitize_filename(filename) or "download"
    ascii_name = (
        unicodedata.normalize("NFKD", safe).encode("ascii", "ignore").decode().strip(" .")
        or "download"
    )
    ascii_name = _UNSAFE.sub("_", ascii_name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(safe, safe='')}"
