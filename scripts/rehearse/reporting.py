"""What the rehearsal tells a human: progress lines, and the failure that ends it."""

from __future__ import annotations


class RehearsalError(Exception):
    """A failure with a message for a human: the rehearsal did not pass."""


def say(message: str) -> None:
    print(f"rehearse: {message}", flush=True)
