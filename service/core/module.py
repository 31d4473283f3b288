"""What a module declares about itself, once: `service/app/<module>/module.py` builds a `Module`.

The app's one module list (`service/app/modules.py`) is read by everything that needs to know
the modules: the root container, the API (routers, index plan, start-up), the Celery app
(task modules, queues, routes, beat), the settings class and the import contracts. Core knows
this shape only, never a module's name, task, queue or error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dependency_injector import containers, providers
from fastapi import APIRouter

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
    - `exports`: providers of the module that satisfy a core dependency by name, e.g. the
      users module's `authenticator` for `CoreContainer.authenticator`.
    - `startup`: awaited by the API once resources are up and indexes exist (e.g. bootstrap an
      admin); it gets the module's container.
    """

    name: str
    container: type[containers.DeclarativeContainer]
    settings: type[Settings] = Settings
    routers: tuple[APIRouter, ...] = ()
    root_routers: tuple[APIRouter, ...] = ()  # mounted at the root, not under the API prefix
    index_plan: IndexPlan = field(default_factory=dict)
    task_modules: tuple[str, ...] = ()
    queues: tuple[str, ...] = ()
    beat: tuple[BeatEntry, ...] = ()
    exports: Mapping[str, providers.Provider[Any]] = field(default_factory=dict)
    startup: Callable[[Any], Awaitable[None]] | None = None

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


def check_settings(settings: Settings, modules: Sequence[Module]) -> None:
    """`settings` must carry every module's fields: an instance of the composed class."""
    missing = [m.name for m in modules if not isinstance(settings, m.settings)]
    if missing:
        raise TypeError(
            f"{type(settings).__name__} lacks the settings of module(s) {', '.join(missing)}: "
            "load them with the app's load_settings (service.app.settings)"
        )
