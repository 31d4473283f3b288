"""created_at / updated_at, always timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def utcnow() -> datetime:
    # MongoDB stores milliseconds: truncate so a value read back equals the one written.
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class TimestampMixin:
    """Adds timestamps to documents written by a repository."""

    @staticmethod
    def stamp_updated(changes: dict[str, Any], at: datetime | None = None) -> dict[str, Any]:
        changes["updated_at"] = at or utcnow()
        return changes
