"""Per-module Celery settings: each worker-based module gets its own Redis prefix and database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pymongo import MongoClient

from service.app.worker import build_worker_app
from service.core.celery_task import CeleryApp
from service.core.config import Settings
from tests.conftest import make_test_settings


def module_settings(
    stack_env: dict[str, str], run_id: str, name: str, **overrides: object
) -> Settings:
    return make_test_settings(
        stack_env,
        run_id,
        redis_key_prefix=f"test:{run_id}:{name}",
        mongodb_db=f"test_{run_id}_{name}",
        **overrides,
    )


def sync_mongo(settings: Settings) -> MongoClient[dict[str, Any]]:
    return MongoClient(settings.mongodb_url)


@contextmanager
def producer(settings: Settings) -> Iterator[CeleryApp]:
    """The test's own Celery app (same settings as its worker); drops the module's data after."""
    app = build_worker_app(settings)
    try:
        yield app
    finally:
        client = app.backend_redis
        for key in client.scan_iter(match=f"{settings.redis_key_prefix}:*", count=1000):
            client.delete(key)
        with sync_mongo(settings) as mongo:
            mongo.drop_database(settings.mongodb_db)
        app.close()


def queue_of(settings: Settings, task: str) -> str:
    """The queue the app routes a task name to."""
    app = build_worker_app(settings)
    route = app.amqp.router.route({}, task)
    name: str = route["queue"].name
    return name
