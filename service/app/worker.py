"""Worker bootstrap: the application container inside Celery worker (and beat) processes.

The Celery app (service.core.celery_task) imports this module by name through its `include`
list. Each worker process gets one event loop and one set of clients: the container is built
and its resources (MongoDB, Redis) started on `worker_process_init`, after the prefork pool has
forked, and shut down on `worker_process_shutdown`. Sentry's Celery integration is initialised
when the worker starts (`celeryd_init`, before the fork) and when beat starts (`beat_init`),
with beat monitoring (Sentry Crons check-ins for every scheduled task).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import signals
from dependency_injector import providers
from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis
from sentry_sdk.integrations.celery import CeleryIntegration

from service.app.container import Container, resolve
from service.core.celery_task import app as celery_app
from service.core.celery_task.runtime import WorkerServices, runtime
from service.core.config import Settings
from service.core.helpers.sentry import init_sentry

logger = logging.getLogger(__name__)

_container: Container | None = None


def worker_settings() -> Settings:
    return celery_app.settings


def worker_container() -> Container:
    """The container of this worker process (its resources are started)."""
    runtime.start()
    if _container is None:
        raise RuntimeError("the worker runtime has no container")
    return _container


def build_worker_container(settings: Settings) -> Container:
    container = Container(settings=settings)
    # Tasks that enqueue more work use the worker's own Celery app.
    container.celery_app.override(providers.Object(celery_app))
    return container


async def open_services() -> WorkerServices:
    global _container
    settings = worker_settings()
    container = build_worker_container(settings)
    await container.init_resources()  # type: ignore[misc]
    _container = container
    return WorkerServices(
        settings=settings,
        redis=await resolve(container.redis_client, Redis),
        database=await resolve(container.database, AsyncDatabase),
        mailer=container.mailer(),
        metrics=container.metrics_publisher(),
    )


async def close_services() -> None:
    global _container
    container, _container = _container, None
    if container is not None:
        await container.shutdown_resources()  # type: ignore[misc]


runtime.configure(open_services, close_services)


def init_worker_sentry(settings: Settings, *, transport: Any = None) -> bool:
    return init_sentry(
        settings,
        extra_integrations=[CeleryIntegration(monitor_beat_tasks=True, propagate_traces=True)],
        transport=transport,
    )


@signals.celeryd_init.connect
def _on_worker_start(**_: Any) -> None:
    init_worker_sentry(worker_settings())


@signals.beat_init.connect
def _on_beat_start(**_: Any) -> None:
    init_worker_sentry(worker_settings())


@signals.worker_process_init.connect
def _on_process_init(**_: Any) -> None:
    runtime.start()


@signals.worker_process_shutdown.connect
def _on_process_shutdown(**_: Any) -> None:
    runtime.stop()


@signals.worker_shutdown.connect
def _on_worker_shutdown(**_: Any) -> None:
    # The solo pool runs tasks in the main process; under prefork this is a no-op here.
    runtime.stop()
