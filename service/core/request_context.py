"""The id of the request being served, for logs, problems and Sentry."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar, Token

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
# Incoming ids are kept only when they cannot smuggle anything into headers or logs.
_WELL_FORMED = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def accept_or_generate(incoming: str | None) -> str:
    if incoming and _WELL_FORMED.match(incoming):
        return incoming
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    return _request_id.get()


def bind_request_id(request_id: str) -> Token[str | None]:
    return _request_id.set(request_id)


def unbind_request_id(token: Token[str | None]) -> None:
    _request_id.reset(token)
