"""One database deadline per request: every operation a request runs shares it.

PyMongo's client `timeoutMS` bounds each operation on its own, so a request that runs a second
one after the first timed out (a compensating write, a fallback read) could wait twice the
bound. `pymongo.timeout()` sets a deadline for a block of operations (a context variable, so it
holds across the request's awaits): inside it, an operation gets what is left, and none once
it has passed. A stalled database is then a 503 within `MONGODB_REQUEST_TIMEOUT_MS` whatever
the route does (docs/operations.md).
"""

from __future__ import annotations

import pymongo
from starlette.types import ASGIApp, Receive, Scope, Send


class DatabaseDeadlineMiddleware:
    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with pymongo.timeout(self.seconds):
            await self.app(scope, receive, send)
