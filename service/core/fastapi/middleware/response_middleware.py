"""Request id (the trace id when traced), timing, security headers, one JSON access-log line,
the request's span and duration metric (with telemetry; deployed, CloudWatch derives the
metric from the access line instead), and the last-resort 500.

A plain ASGI middleware (not BaseHTTPMiddleware): it adds no task or stream per request, which
matters on the hot cached read path.
"""

from __future__ import annotations

import logging
import time

import sentry_sdk
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.core.access_log import access_log
from service.core.fastapi.problem import problem_response
from service.core.fastapi.telemetry import RequestTelemetry, RouteTemplates, error_type
from service.core.request_context import (
    accept_or_generate,
    bind_request_id,
    unbind_request_id,
)

error_logger = logging.getLogger("biwoco.error")

_SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
# The API returns JSON only; the interactive docs pages load Swagger UI, so they are exempt.
_API_HEADERS = (
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cache-control", b"no-store"),
)
_HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")
_OWN = frozenset({b"x-request-id", b"x-process-time"})
_DOCS_PATHS = ("/docs", "/redoc")


class ResponseMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        hsts: bool = False,
        routes: RouteTemplates | None = None,
        telemetry: RequestTelemetry | None = None,
    ) -> None:
        self.app = app
        self.hsts = hsts
        self._defaults = _SECURITY_HEADERS + _API_HEADERS
        self._routes = routes or RouteTemplates()
        self._telemetry = telemetry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_at = time.perf_counter()
        # With telemetry, the request's span starts here and its trace id is the request id.
        # Without, the client's X-Request-ID or a new id of the same shape.
        traced = self._telemetry.start(scope) if self._telemetry is not None else None
        request_id = traced.trace_id if traced is not None else None
        if request_id is None:
            incoming = None
            for name, value in scope["headers"]:
                if name == b"x-request-id":
                    incoming = value.decode("latin-1")
                    break
            request_id = accept_or_generate(incoming)
        token = bind_request_id(request_id)
        path: str = scope["path"]
        status = 500
        response_started = False
        failure: BaseException | None = None

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers: list[tuple[bytes, bytes]] = []
                present: set[bytes] = set()
                for name, value in message.get("headers", ()):
                    lowered = name.lower()
                    if lowered not in _OWN:
                        headers.append((name, value))
                        present.add(lowered)
                elapsed_ms = (time.perf_counter() - started_at) * 1000
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                headers.append((b"x-process-time", f"{elapsed_ms:.2f}ms".encode()))
                defaults = _SECURITY_HEADERS if path.startswith(_DOCS_PATHS) else self._defaults
                headers.extend(h for h in defaults if h[0] not in present)
                if self.hsts:
                    headers.append(_HSTS)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as error:
            failure = error
            # Log with the traceback and report; the client learns nothing about internals.
            error_logger.exception("unhandled error", extra={"path": path})
            sentry_sdk.capture_exception(error)
            if response_started:
                raise
            await problem_response(500, code="internal_error")(scope, receive, send_with_headers)
        finally:
            # The route template, not the raw path: no ids or tokens from URLs in logs.
            route = self._routes.of(scope.get("route"))
            elapsed = time.perf_counter() - started_at
            failure_type = error_type(status, failure)
            access_log(
                request_id=request_id,
                method=scope["method"],
                route=route or "<unmatched>",
                status=status,
                duration_ms=round(elapsed * 1000, 2),
                # Behind CloudFront and the ALB, ForwardedMiddleware (outermost) has put the
                # client's address here.
                client=client[0] if (client := scope.get("client")) else None,
                error_type=failure_type,
            )
            if self._telemetry is not None:
                self._telemetry.finish(traced, scope, route, status, elapsed, failure_type, failure)
            unbind_request_id(token)
