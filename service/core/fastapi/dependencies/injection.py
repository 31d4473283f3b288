"""Container providers as FastAPI dependencies: `Annotated[T, Inject(SomeContainer.provider)]`.

A route names a provider as its container class declares it; the dependency answers with what
that provider gives in the composition of the app serving the request (`container_of`), so two
apps in one process (tests) each resolve from their own composition, overrides included. It is
an ordinary `async def` dependency: FastAPI solves and caches it like any other (one per
provider, so a route and its sub-dependencies asking for the same provider get one answer).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from dependency_injector import providers
from fastapi import Depends
from fastapi.requests import HTTPConnection

from service.core.composition import ServiceContainer

T = TypeVar("T")


def container_of(connection: HTTPConnection) -> ServiceContainer:
    """The composition of the app serving the request or WebSocket (set once by the app
    factory)."""
    container: ServiceContainer = connection.app.state.container
    return container


@functools.cache
def provided_by(declared: providers.Provider[T]) -> Callable[[HTTPConnection], Awaitable[T]]:
    """The dependency function of one provider (one per provider: FastAPI caches by function)."""

    async def provided(connection: HTTPConnection) -> T:
        return container_of(connection).provided(declared)

    provided.__qualname__ = provided.__name__ = f"provided({declared!r})"
    return provided


def Inject(declared: providers.Provider[T]) -> Any:
    """A FastAPI dependency on `declared`, for `Annotated[T, Inject(...)]`."""
    return Depends(provided_by(declared))
