"""Mount a module's router on the app as the app's own routes, with the fast dependency path.

`include_router` (FastAPI 0.165) keeps each included router as one lazily matched node: every
request is matched router by router, each scanned twice (to select, then to handle), about a
fifth of a cached read's time in the framework. The modules still declare their `APIRouter`s;
the app adds their routes to its own router, one flat list matched in a single pass.

Each mounted route is a `ServiceRoute`: its request-only dependencies (container providers, the
bearer principal) are called beside FastAPI's solver (see fast_dependencies.py).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.routing import APIRoute

from service.core.fastapi.fast_dependencies import fast_dependant

# Everything `add_api_route` takes, read back from the route the module's router built.
_NOT_COPIED = frozenset({"self", "path", "endpoint", "route_class_override"})
_MISSING = object()


class ServiceRoute(APIRoute):
    """An API route whose handler calls its request-only dependencies itself."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        fast = fast_dependant(self.dependant)
        if fast is None:
            return super().get_route_handler()
        # The handler is built from `self.dependant`; OpenAPI reads it later: swap it for the
        # build only, so the documented dependencies stay the declared ones.
        declared, self.dependant = self.dependant, fast
        try:
            return super().get_route_handler()
        finally:
            self.dependant = declared


def _route_options() -> list[str]:
    parameters = inspect.signature(APIRouter.add_api_route).parameters
    return [name for name in parameters if name not in _NOT_COPIED]


def mount_routes(app: FastAPI, router: APIRouter, prefix: str = "") -> None:
    options = _route_options()
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"only API routes can be mounted, not {route!r}")
        copied: dict[str, Any] = {}
        for name in options:
            value = getattr(route, name, _MISSING)
            if value is _MISSING:  # a FastAPI upgrade renamed something: fail at start-up
                raise AttributeError(f"APIRoute has no {name!r} to mount {route.path}")
            copied[name] = value
        app.router.add_api_route(
            prefix + route.path, route.endpoint, route_class_override=ServiceRoute, **copied
        )
