"""The root container: the core container plus one nested container per module.

`ServiceContainer(settings, modules)` is built once per process (API app, worker process, CLI)
from the app's module list. It is the one way to get a dependency: routes declare
`Annotated[T, Inject(SomeContainer.provider)]`, tasks `await runtime.resolve(...)`, scripts
`await container.resolve(...)`, all naming a provider as its container class declares it;
`provider()` finds this composition's copy of it (overrides included).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from dependency_injector import containers, providers

from service.core.config import Settings
from service.core.container import CoreContainer
from service.core.module import Module, check_one_authenticator, check_settings, check_unique

T = TypeVar("T")


class ServiceContainer:
    def __init__(
        self,
        settings: Settings,
        modules: Sequence[Module],
        *,
        celery_app: object | None = None,
    ) -> None:
        check_unique(modules)
        check_one_authenticator(modules)
        check_settings(settings, modules)
        self.settings = settings
        self.modules = tuple(modules)
        root = containers.DynamicContainer()
        root.core = providers.Container(
            CoreContainer,
            settings=providers.Object(settings),
            modules=providers.Object(self.modules),
        )
        if celery_app is not None:  # the worker enqueues follow-up work with its own app
            root.core.celery_app.override(providers.Object(celery_app))
        for module in self.modules:
            setattr(root, module.name, providers.Container(module.container, core=root.core))
        self.root = root
        self._settled = False
        self._index: dict[int, providers.Provider[Any]] = {}
        self._add(CoreContainer, root.core)
        for module in self.modules:
            self._add(module.container, getattr(root, module.name))
        for module in self.modules:
            if module.authenticator is not None:
                copy = self.provider(module.authenticator)
                root.core.authenticator.override(copy)  # for the core providers built on it
                # Asked for directly, the module's provider answers: a Dependency checks its
                # `instance_of` at every call (a Protocol's isinstance costs microseconds).
                self._index[id(CoreContainer.authenticator)] = copy

    def _add(self, declared_by: type[containers.DeclarativeContainer], copy: Any) -> None:
        for name, declared in declared_by.cls_providers.items():
            self._index[id(declared)] = getattr(copy, name)

    # -- getting a dependency ---------------------------------------------------------------

    def provider(self, declared: providers.Provider[T]) -> providers.Provider[T]:
        """This composition's copy of a provider declared on a container class."""
        try:
            return cast("providers.Provider[T]", self._index[id(declared)])
        except KeyError:
            raise LookupError(
                f"{declared!r} is declared by no container of this composition "
                "(is its module in the module list?)"
            ) from None

    def provided(self, declared: providers.Provider[T]) -> T:
        """The object, synchronously: once settled (the API, per request), or for providers
        needing no async resource."""
        if self._settled:  # the hot path: every singleton is built, nothing to await
            try:
                return self._index[id(declared)]()  # type: ignore[no-any-return]
            except KeyError:
                self.provider(declared)  # raises the LookupError that says why
        value = self.provider(declared)()
        if inspect.isawaitable(value):
            raise RuntimeError(f"{declared!r} is not built yet: await resolve() before settle()")
        return value

    async def resolve(self, declared: providers.Provider[T]) -> T:
        value: Any = self.provider(declared)()
        if inspect.isawaitable(value):
            value = await value
        return cast("T", value)

    @contextmanager
    def override(self, declared: providers.Provider[T], replacement: object) -> Iterator[None]:
        """Within the block, `declared` gives `replacement` (a provider, or any object) in this
        composition, and so does everything built on it: each singleton that depends on it is
        rebuilt on its next use, in the block and again after it."""
        copy = self.provider(declared)
        built_on = self._singletons_built_on(copy)
        if not isinstance(replacement, providers.Provider):
            replacement = providers.Object(replacement)
        try:
            with copy.override(replacement):
                for singleton in built_on:
                    singleton.reset()
                yield
        finally:
            for singleton in built_on:
                singleton.reset()

    def _singletons_built_on(self, provider: providers.Provider[Any]) -> list[Any]:
        found: list[Any] = []
        singleton: providers.Provider[Any]
        for singleton in self.root.traverse(types=[providers.Singleton]):
            depends_on: list[providers.Provider[Any]] = list(singleton.traverse())
            if singleton is not provider and any(p is provider for p in depends_on):
                found.append(singleton)
        return found

    def module(self, name: str) -> Any:
        """A module's nested container (e.g. to override one of its providers in a test)."""
        return getattr(self.root, name)

    @property
    def core(self) -> Any:
        return self.root.core

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the resources (clients)."""
        started = self.root.init_resources()
        if inspect.isawaitable(started):
            await started

    async def settle(self) -> None:
        """After start-up: build every singleton, then let providers answer synchronously.

        Providers that depend on async resources answer with awaitables ("async mode"), so
        every injection of one cost a future and a gathered task per request. Once the
        resources are up and the singletons built, nothing is left to wait for.
        """
        singleton: providers.Provider[Any]
        for singleton in self.root.traverse(types=[providers.Singleton]):
            built = singleton()
            if inspect.isawaitable(built):
                await built
        provider: providers.Provider[Any]
        for provider in self.root.traverse():
            provider.disable_async_mode()
        self._settled = True

    def instances_of(self, kind: type[T]) -> list[T]:
        """Every built singleton that is a `kind` (e.g. the near caches the API starts)."""
        found: list[T] = []
        singleton: providers.Singleton[Any]
        for singleton in self.root.traverse(types=[providers.Singleton]):
            value = singleton()
            if isinstance(value, kind) and not any(value is seen for seen in found):
                found.append(value)
        return found

    async def stop(self) -> None:
        """Close the resources; undoes `settle` first.

        `shutdown_resources()` awaits the resources' closing only when one of them is in async
        mode; otherwise it merely schedules each async close and returns None, and the clients
        close in orphan tasks after the app has stopped (one of which hung a test session's
        teardown for good).
        """
        provider: providers.Provider[Any]
        if self._settled:
            for provider in self.root.traverse():
                provider.reset_async_mode()
            resource: providers.Resource[Any]
            for resource in self.root.traverse(types=[providers.Resource]):
                resource.enable_async_mode()
            self._settled = False
        closing = self.root.shutdown_resources()
        if inspect.isawaitable(closing):  # None when no resource was started
            await closing
