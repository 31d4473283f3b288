"""`Inject(SomeContainer.provider)`: the object a container provider gives, as a dependency.

Routes declare `Annotated[T, Inject(FilesContainer.service)]`, naming the provider as its
container class declares it. The dependency is resolved from the composition of the app
serving the request (`container_of`), on the event loop: no `@inject` wrapper per call, no
thread hop (FastAPI runs a sync dependency callable on a worker thread), and no process-wide
wiring, so two apps in one process (tests) each resolve from their own composition, overrides
included.
"""

from __future__ import annotations

from typing import Any, TypeVar

from dependency_injector import providers
from fastapi import Depends, Request

from service.core.fastapi.dependencies.dependencies import container_of
from service.core.fastapi.fast_dependencies import RequestDependency

T = TypeVar("T")


class _Provided(RequestDependency):
    __slots__ = ("declared",)

    def __init__(self, declared: providers.Provider[Any]) -> None:
        self.declared = declared

    async def __call__(self, request: Request) -> Any:
        return container_of(request).provided(self.declared)

    def __repr__(self) -> str:
        return f"Inject({self.declared!r})"


def Inject(declared: providers.Provider[T]) -> Any:
    """A FastAPI dependency on `declared`, for `Annotated[T, Inject(...)]`."""
    return Depends(_Provided(declared))
