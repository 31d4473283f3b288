"""What the stack tells a human: progress notes, readable failures, the tail of a log."""

from __future__ import annotations

import sys
from pathlib import Path


class StackError(Exception):
    """An expected failure with a message meant for a human (no traceback needed)."""


def note(message: str) -> None:
    print(f"stack: {message}", file=sys.stderr, flush=True)


def tail(path: Path, lines: int = 20) -> str:
    """The last lines of a (log) file, or a note that it is empty or missing."""
    try:
        data = path.read_bytes()
    except OSError:
        return f"(no log at {path})"
    text = data[-16384:].decode("utf-8", errors="replace").rstrip()
    if not text:
        return f"(log {path} is empty)"
    return "\n".join(text.splitlines()[-lines:])


def indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
