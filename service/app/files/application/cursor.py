"""Opaque keyset cursors: base64url of the last item's (created_at, id)."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from service.app.files.domain.ports import PageCursor
from service.core.exceptions import UnprocessableError


def encode_cursor(cursor: PageCursor) -> str:
    raw = json.dumps({"t": cursor.created_at.isoformat(), "i": cursor.id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(value: str) -> PageCursor:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        data = json.loads(raw)
        created_at = datetime.fromisoformat(data["t"])
        file_id = data["i"]
        if created_at.tzinfo is None or not isinstance(file_id, str):
            raise ValueError("naive time or non-string id")
    except (binascii.Error, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        raise UnprocessableError("cursor is not one this API issued", code="invalid_cursor") from (
            error
        )
    return PageCursor(created_at=created_at, id=file_id)
