"""The id of the request being served, for logs, problems and Sentry."""

from __future__ import annotations

import random
import re
from contextvars import ContextVar, Token

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
# Incoming ids are kept only when they cannot smuggle anything into headers or logs.
_WELL_FORMED = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def accept_or_generate(incoming: str | None) -> str:
    if incoming and _WELL_FORMED.match(incoming):
        return incoming
    # A correlation id, not a secret: 128 random bits without a system call per request
    # (uuid4 reads the OS's random source every time). `random` reseeds in forked children.
    return f"{random.getrandbits(128):032x}"


def current_request_id() -> str | None:
    return _request_id.get()


def bind_request_id(request_id: str) -> Token[str | None]:
    return _request_id.set(request_id)


def unbind_request_id(token: Token[str | None]) -> None:
    _request_id.reset(token)
