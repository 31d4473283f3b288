"""The time the service decides with: injected, so a test can hold or move it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        # BSON dates hold milliseconds: truncated here, a time read back equals the one written.
        now = datetime.now(UTC)
        return now.replace(microsecond=now.microsecond // 1000 * 1000)
