"""One cache request scope per HTTP request: lookups read ahead live no longer than it."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from service.core.helpers.caches import request_scope


class CacheScopeMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with request_scope():
            await self.app(scope, receive, send)
