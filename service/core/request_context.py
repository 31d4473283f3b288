"""The id of the request being served, for logs, problems and Sentry.

With telemetry on, the request id is the trace id (32 hex digits, W3C trace context): one value
joins a log line, a problem body, a Sentry event and a trace, in the API and in the worker that
runs a task the request sent (its log lines carry the same id). Without a trace, an incoming
well-formed `X-Request-ID` is kept, or an id of the same shape is made up.
"""

from __future__ import annotations

import random
import re
from contextvars import ContextVar, Token

from opentelemetry import trace

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
# Incoming ids are kept only when they cannot smuggle anything into headers or logs.
_WELL_FORMED = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def accept_or_generate(incoming: str | None) -> str:
    if incoming and _WELL_FORMED.match(incoming):
        return incoming
    # A correlation id, not a secret: 128 random bits without a system call per request
    # (uuid4 reads the OS's random source every time). `random` reseeds in forked children.
    return f"{random.getrandbits(128):032x}"


def current_trace_id() -> str | None:
    """The trace id of the current span (sampled or not), as 32 hex digits; None outside one."""
    trace_id = trace.get_current_span().get_span_context().trace_id
    return f"{trace_id:032x}" if trace_id else None


def current_request_id() -> str | None:
    """The request's id; in a task (or anywhere outside a request) the current trace's."""
    return _request_id.get() or current_trace_id()


def bind_request_id(request_id: str) -> Token[str | None]:
    return _request_id.set(request_id)


def unbind_request_id(token: Token[str | None]) -> None:
    _request_id.reset(token)
