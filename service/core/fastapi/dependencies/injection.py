"""`Inject[Container.x]`: the object a container provider gives, as a FastAPI dependency.

Routes declare container dependencies as `Annotated[T, Depends(Inject[Container.x])]`. The
marker is resolved from the container of the app serving the request (`app.state.container`),
on the event loop: no `@inject` wrapper per call, no thread hop (FastAPI runs a sync dependency
callable on a worker thread), and no process-wide wiring, so two apps in one process (tests)
each resolve from their own container, overrides included.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dependency_injector.wiring import Provide
from fastapi import Request

if TYPE_CHECKING:  # the stubs type `Provide` as a generic alias; to a checker they are one
    Inject = Provide
else:

    class Inject(Provide):
        async def __call__(self, request: Request) -> Any:
            container = request.app.state.container  # set by the app factory
            name = self.__dict__.get("_name")
            if name is None:
                name = self._name = _provider_name(container, self.provider)
            return getattr(container, name)()


def _provider_name(container: Any, provider: Any) -> str:
    """The attribute under which the container's declarative class declares `provider`."""
    declared_by = container.declarative_parent
    for name, declared in declared_by.cls_providers.items():
        if declared is provider:
            return str(name)
    raise LookupError(f"{provider!r} is not a provider of {declared_by.__name__}")
