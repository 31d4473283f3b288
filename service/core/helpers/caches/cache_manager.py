"""The `cached(ttl, tags)` decorator and the manager that owns the backend.

A cache outage never becomes an error: lookups and stores that fail are logged and the source
is used. Invalidation failures are logged as errors; entries then live at most their TTL.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from pydantic import BaseModel

from service.core.helpers.caches.base.backend import CacheBackend, CacheUnavailableError
from service.core.helpers.caches.base.key_maker import KeyMaker
from service.core.helpers.caches.cache_tag import CacheTag
from service.core.helpers.caches.key_maker import FunctionKeyMaker

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")
_UNBOUND_NAMES = frozenset({"self", "cls"})
# Argument types whose value is their identity for a key: calls made only of these (besides
# `self`) remember their key and tags instead of binding and hashing them again.
_PLAIN = (str, int, float, bool, type(None))
_MAX_REMEMBERED_PLANS = 4096
CallKey = tuple[Callable[..., Any], tuple[Any, ...], tuple[tuple[str, Any], ...]]


def _call_key(
    function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> CallKey:
    return (function, args, tuple(sorted(kwargs.items())))


@dataclass(frozen=True, slots=True)
class _Plan:
    """How a cached function names its entry: `keys(*args, **kwargs)` -> (key, tags)."""

    keys: Callable[..., tuple[str, list[str]]]
    # A method's `self` (or `cls`) is not part of its key.
    skips_first: bool


class CacheManager:
    """One per container (API, worker, CLI): it serves the cached methods of that container's
    services with that container's backend, so no process can hold a manager without one."""

    def __init__(self, backend: CacheBackend, key_maker: KeyMaker | None = None) -> None:
        self._backend = backend
        self._key_maker = key_maker or FunctionKeyMaker()
        # Keys and tags of recent calls with plain arguments.
        self._remembered: dict[CallKey, tuple[str, list[str]]] = {}

    def _keys(self, call: CallKey, plan: _Plan) -> tuple[str, list[str]]:
        """The call's key and tags, remembered when its arguments are plain."""
        _, args, kwargs = call
        plain = all(isinstance(a, _PLAIN) for a in args[plan.skips_first :]) and all(
            isinstance(v, _PLAIN) for _, v in kwargs
        )
        if not plain:
            return plan.keys(*args, **dict(kwargs))
        keys = self._remembered.get(call)
        if keys is None:
            if len(self._remembered) >= _MAX_REMEMBERED_PLANS:
                self._remembered.clear()
            keys = self._remembered[call] = plan.keys(*args, **dict(kwargs))
        return keys

    async def invalidate(self, *tags: str) -> None:
        try:
            await self._backend.invalidate_tags(*tags)
        except CacheUnavailableError as error:
            logger.error("cache invalidation failed", extra={"tags": tags, "error": str(error)})

    def cached(
        self,
        ttl: int,
        tags: Iterable[str] = (),
        model: type[BaseModel] | None = None,
    ) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
        """Cache an async function's result for `ttl` seconds under tags rendered from its
        arguments. With `model`, the pydantic result is stored as JSON and validated on a hit."""
        templates = [CacheTag(tag) for tag in tags]

        def decorate(function: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
            signature = inspect.signature(function)

            def keys(*args: Any, **kwargs: Any) -> tuple[str, list[str]]:
                bound = signature.bind(*args, **kwargs)
                bound.apply_defaults()
                arguments = {k: v for k, v in bound.arguments.items() if k not in _UNBOUND_NAMES}
                return self._key_maker.make(function, arguments), [
                    t.render(arguments) for t in templates
                ]

            @functools.wraps(function)
            async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
                backend = self._backend
                key, rendered = self._keys(_call_key(wrapper, args, kwargs), plan)
                try:
                    lookup = await backend.lookup(key, rendered)
                except CacheUnavailableError as error:
                    logger.warning(
                        "cache lookup failed; using the source", extra={"error": str(error)}
                    )
                    return await function(*args, **kwargs)
                if lookup.hit:
                    return model.model_validate(lookup.value) if model else lookup.value  # type: ignore[return-value]
                value = await function(*args, **kwargs)
                stored = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
                try:
                    await backend.store(key, stored, ttl=ttl, tags=rendered, stamp=lookup.stamp)
                except CacheUnavailableError as error:
                    logger.warning("cache store failed", extra={"error": str(error)})
                return value

            plan = _Plan(keys, next(iter(signature.parameters), None) in _UNBOUND_NAMES)
            return wrapper

        return decorate
