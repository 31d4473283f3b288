from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    to: str
    subject: str
    text: str
    # Why the mail is sent ("verify_email", "password_reset"); for logs and metrics, never content.
    kind: str = "generic"
