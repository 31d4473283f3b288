"""What a module declares about itself, once: `service/app/<module>/module.py` builds a `Module`.

The app's one module list (`service/app/modules.py`) is read by everything that needs to know
the modules: the root container, the API (routers, index plan, start-up), the Celery app
(task modules, queues, routes, beat), the settings class and the import contracts. Core knows
this shape only, never a module's name, task, queue or error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dependency_injector import containers, providers
from fastapi import APIRouter
from starlette.routing import Mount

from service.core.config import Settings
from service.core.db.database import IndexPlan


@dataclass(frozen=True, slots=True, kw_only=True)
class BeatEntry:
    """A periodic task: beat sends `task` every `every(settings)` seconds."""

    name: str
    task: str
    every: Callable[[Any], float]


@dataclass(frozen=True, slots=True, kw_only=True)
class Module:
    """One module's declaration.

    - `name`: a Python identifier; the root container's attribute for the module's container,
      and the prefix of its task names (`<name>.<task>`), which route to its first queue.
    - `container`: its nested container class; it declares `core = DependenciesContainer()`
      and builds on the core container's providers (settings, database, cache, Celery, clock).
    - `settings`: a subclass of core `Settings` with the module's fields (prefixed `<name>_`);
      the app's settings class is composed of every module's (`compose_settings`).
    - `authenticator`: the module's provider of core's `Authenticator` (what turns a bearer
      token into a `Principal`), when the module is the one that authenticates; it answers
      `CoreContainer.authenticator` (the users module: `UsersContainer.authenticator`).
    - `refine_openapi`: changes the served OpenAPI document where it depends on settings.
    - `startup`: awaited by the API once resources are up and indexes exist (e.g. bootstrap an
      admin); it gets the module's container.
    """

    name: str
    container: type[containers.DeclarativeContainer]
    settings: type[Settings] = Settings
    routers: tuple[APIRouter, ...] = ()
    root_routers: tuple[APIRouter, ...] = ()  # included at the root, not under the API prefix
    # ASGI apps mounted under the API prefix (`include_router` carries a router's HTTP and
    # WebSocket routes, but not its mounts).
    mounts: tuple[Mount, ...] = ()
    index_plan: IndexPlan = field(default_factory=dict)
    task_modules: tuple[str, ...] = ()
    queues: tuple[str, ...] = ()
    beat: tuple[BeatEntry, ...] = ()
    # A provider of an `Authenticator` (dependency-injector's providers are invariant in what
    # they give, so a provider of AuthService is not a Provider[Authenticator] to mypy).
    authenticator: providers.Provider[Any] | None = None
    startup: Callable[[Any], Awaitable[None]] | None = None
    # Refines the served OpenAPI document with what depends on settings (e.g. an enum of the
    # values a setting allows): `refine_openapi(settings, document)`, in place.
    refine_openapi: Callable[[Any, dict[str, Any]], None] | None = None

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or self.name == "core":
            raise ValueError(f"module name {self.name!r} must be an identifier other than 'core'")


def compose_settings(modules: Sequence[Module]) -> type[Settings]:
    """The app's settings class: core settings plus every module's fields and validators."""
    bases: list[type[Settings]] = []
    for module in modules:
        if module.settings is not Settings and module.settings not in bases:
            bases.append(module.settings)
    if not bases:
        return Settings
    return type("AppSettings", tuple(bases), {"__module__": __name__})


def check_unique(modules: Sequence[Module]) -> None:
    """Two modules may not share a name, a queue, a collection or a beat entry."""
    seen: dict[str, str] = {}
    for module in modules:
        keys = [f"module {module.name}"]
        keys += [f"queue {queue}" for queue in module.queues]
        keys += [f"collection {name}" for name in module.index_plan]
        keys += [f"beat entry {entry.name}" for entry in module.beat]
        for key in keys:
            if key in seen:
                raise ValueError(f"{key} is declared by both {seen[key]} and {module.name}")
            seen[key] = module.name


def check_one_authenticator(modules: Sequence[Module]) -> None:
    """At most one module authenticates: two would race for `CoreContainer.authenticator`."""
    named = [module.name for module in modules if module.authenticator is not None]
    if len(named) > 1:
        raise ValueError(f"modules {', '.join(named)} each declare an authenticator; one may")


def check_settings(settings: Settings, modules: Sequence[Module]) -> None:
    """`settings` must carry every module's fields: an instance of the composed class."""
    missing = [m.name for m in modules if not isinstance(settings, m.settings)]
    if missing:
        raise TypeError(
            f"{type(settings).__name__} lacks the settings of module(s) {', '.join(missing)}: "
            "load them with the app's load_settings (service.app.settings)"
        )
