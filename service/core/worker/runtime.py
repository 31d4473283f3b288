"""One event loop and one composition (container and clients) per worker process.

PyMongo's async client and redis.asyncio are bound to the loop they were created on, so a worker
process gets one loop, builds its composition on it once (`worker_process_init`) and closes it
at `worker_process_shutdown`; every task runs its coroutine on that loop with `runtime.run(...)`
and gets what it needs from that composition, as a route does from the API's:
`await runtime.resolve(FilesContainer.processing)`. `service.app.worker` installs the factory
(core never imports app).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from contextlib import suppress
from typing import Any, TypeVar

from dependency_injector import providers

from service.core.composition import ServiceContainer

logger = logging.getLogger(__name__)
T = TypeVar("T")


CompositionFactory = Callable[[], ServiceContainer]


class WorkerRuntime:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._container: ServiceContainer | None = None
        self._factory: CompositionFactory | None = None

    def configure(self, factory: CompositionFactory) -> None:
        self._factory = factory

    @property
    def started(self) -> bool:
        return self._loop is not None

    def start(self) -> None:
        """Create the loop and the composition (prefork: in each child, after the fork)."""
        if self._loop is not None:
            return
        if self._factory is None:
            raise RuntimeError(
                "worker runtime not configured: run the worker with -A service.app.worker"
            )
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        container = self._factory()
        try:
            loop.run_until_complete(container.start())
        except BaseException:
            self._loop = None
            loop.close()
            raise
        self._container = container
        logger.info("worker runtime started")

    def stop(self) -> None:
        loop, self._loop = self._loop, None
        container, self._container = self._container, None
        if loop is None:
            return
        try:
            if container is not None:
                loop.run_until_complete(container.stop())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
            logger.info("worker runtime stopped")

    @property
    def container(self) -> ServiceContainer:
        self.start()  # the solo pool has no worker_process_init: start on first use
        assert self._container is not None
        return self._container

    async def resolve(self, declared: providers.Provider[T]) -> T:
        """What `declared` provides in this worker process's composition."""
        return await self.container.resolve(declared)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a task's coroutine on the process loop."""
        self.start()
        assert self._loop is not None
        task = self._loop.create_task(coroutine)
        try:
            return self._loop.run_until_complete(task)
        except BaseException:
            # A soft time limit interrupts the loop itself: cancel the orphan so the loop is
            # clean for the next task.
            if not task.done():
                task.cancel()
                with suppress(BaseException):
                    self._loop.run_until_complete(task)
            raise


runtime = WorkerRuntime()
