"""One event loop and one set of clients per worker process.

PyMongo's async client and redis.asyncio are bound to the loop they were created on, so a worker
process gets one loop, builds its clients on it once (`worker_process_init`) and closes them at
`worker_process_shutdown`; every task runs its coroutine on that loop with `runtime.run(...)`.
The services come from the application's container: `service.app.worker` installs the factory
(core never imports app).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, TypeVar

from redis.asyncio import Redis

from service.core.config import Settings
from service.core.db.database import Database
from service.core.helpers.mail.mailer import Mailer
from service.core.helpers.metrics import MetricsPublisher

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class WorkerServices:
    """What core tasks use; modules' tasks reach their own services through the container."""

    settings: Settings
    redis: Redis
    database: Database
    mailer: Mailer
    metrics: MetricsPublisher


ServicesFactory = Callable[[], Awaitable[WorkerServices]]
ServicesCloser = Callable[[], Awaitable[None]]


class WorkerRuntime:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._services: WorkerServices | None = None
        self._factory: ServicesFactory | None = None
        self._closer: ServicesCloser | None = None

    def configure(self, factory: ServicesFactory, closer: ServicesCloser) -> None:
        self._factory, self._closer = factory, closer

    @property
    def started(self) -> bool:
        return self._loop is not None

    def start(self) -> None:
        """Create the loop and the clients (prefork: in each child, after the fork)."""
        if self._loop is not None:
            return
        if self._factory is None:
            raise RuntimeError("worker runtime not configured: is service.app.worker included?")
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            self._services = loop.run_until_complete(self._factory())
        except BaseException:
            self._loop = None
            loop.close()
            raise
        logger.info("worker runtime started")

    def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            return
        try:
            if self._closer is not None:
                loop.run_until_complete(self._closer())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            self._services = None
            loop.close()
            logger.info("worker runtime stopped")

    @property
    def services(self) -> WorkerServices:
        self.start()  # the solo pool has no worker_process_init: start on first use
        assert self._services is not None
        return self._services

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
