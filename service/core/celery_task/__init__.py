"""The Celery app of the service, built from the module declarations.

The app's worker bootstrap (`service.app.worker`) builds it from the module list; the
container entry points are

    celery -A service.app.worker worker --loglevel=INFO
    celery -A service.app.worker beat --loglevel=INFO

The worker consumes every declared queue: core's `default` and `email`, and each module's own
(`Module.queues`). Broker and result store are Redis, configured from the same settings as the
API (REDIS_URL, REDIS_PASSWORD, REDIS_CA_FILE; `rediss://` verifies the server certificate).
Every key the broker and the result store write starts with `<REDIS_KEY_PREFIX>:celery:`.

A module's background work (docs/new-module.md has the recipe): tasks in its task module,
declared with `@shared_task(base=BaseTask, bind=True, name="<module>.<task>")` and listed in its
`Module.task_modules`; routing is by name, so `<module>.*` goes to the module's first queue,
`mail.*` to `email`, everything else to `default`. Async code runs on the worker process's one
loop (`runtime.run`, `service.core.worker.runtime`) with the worker's composition (`await
runtime.resolve(Provider)`), never new clients. Periodic work: a `BeatEntry` in `Module.beat`
(the schedule lives in code; only intervals are settings).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from kombu import Queue

from service.core.celery_task.base import BaseTask, CeleryApp
from service.core.config import Settings
from service.core.db.redis.connection import RedisConnection
from service.core.module import Module, check_settings

__all__ = [
    "CORE_QUEUES",
    "BaseTask",
    "CeleryApp",
    "beat_schedule",
    "celery_config",
    "create_celery_app",
    "queues",
    "task_routes",
]

# Core's own queues: `default` for work of no particular queue, `email` for mail delivery.
CORE_QUEUES = ("default", "email")

# Redis transport: lower number, higher priority. Work is sent at DEFAULT_PRIORITY (the routes
# carry it, so `send_task` by name gets it too).
DEFAULT_PRIORITY = 6


def queues(modules: Sequence[Module]) -> tuple[str, ...]:
    """Every queue the worker consumes: core's, then each module's."""
    return CORE_QUEUES + tuple(q for module in modules for q in module.queues)


def task_routes(modules: Sequence[Module]) -> dict[str, dict[str, str | int]]:
    """Routing by task name; a task routed to a queue that is not declared is refused at send
    time."""
    routes: dict[str, dict[str, str | int]] = {
        "mail.*": {"queue": "email", "priority": DEFAULT_PRIORITY}
    }
    for module in modules:
        if module.queues:
            routes[f"{module.name}.*"] = {"queue": module.queues[0], "priority": DEFAULT_PRIORITY}
    routes["*"] = {"queue": "default", "priority": DEFAULT_PRIORITY}
    return routes


def beat_schedule(settings: Settings, modules: Sequence[Module]) -> dict[str, dict[str, Any]]:
    """Every periodic task, by task name. Beat runs as exactly one instance (see beat.py)."""
    # (The backlog metric is not scheduled work: beat publishes it itself, see backlog.py.)
    return {
        entry.name: {"task": entry.task, "schedule": timedelta(seconds=entry.every(settings))}
        for module in modules
        for entry in module.beat
    }


def celery_config(settings: Settings, modules: Sequence[Module] = ()) -> dict[str, Any]:
    key_prefix = f"{settings.redis_key_prefix}:celery:"
    # The state Redis's password and TLS, as every redis-py client of the service has them.
    broker, backend = (
        RedisConnection.of(url, settings.redis_password, settings.redis_ca_file)
        for url in (settings.celery_broker, settings.celery_result_backend)
    )
    lock_ttl = settings.celery_beat_lock_ttl_seconds
    config: dict[str, Any] = {
        "broker_url": broker.url_with_password(),
        "result_backend": backend.url_with_password(),
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {
            "global_keyprefix": key_prefix,
            # Longer than any task (validated in settings): a message whose worker died comes
            # back after this long; a live task's message is never handed out twice.
            "visibility_timeout": settings.celery_visibility_timeout_seconds,
            "unacked_restore_interval": settings.celery_unacked_restore_interval_seconds,
            "unacked_restore_throttle": 1,
            "socket_timeout": 30,
            "socket_connect_timeout": 5,
            "socket_keepalive": True,
            "health_check_interval": 25,
        },
        "result_backend_transport_options": {"global_keyprefix": key_prefix},
        "result_backend_always_retry": True,
        "result_backend_max_retries": 10,
        "result_expires": timedelta(seconds=settings.celery_result_expires_seconds),
        "result_extended": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "timezone": "UTC",
        "enable_utc": True,
        # Queues and routing.
        "task_queues": tuple(Queue(name, routing_key=name) for name in queues(modules)),
        "task_default_queue": "default",
        "task_default_routing_key": "default",
        "task_create_missing_queues": False,
        "task_routes": task_routes(modules),
        "task_default_priority": DEFAULT_PRIORITY,
        # Reliability: ack after the task, requeue when its process dies, bounded run time.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "task_track_started": True,
        "task_soft_time_limit": settings.celery_task_soft_time_limit_seconds,
        "task_time_limit": settings.celery_task_time_limit_seconds,
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "worker_max_tasks_per_child": 1000,
        "worker_hijack_root_logger": False,
        # Beat: one instance, holding a Redis lock it renews more often than it expires.
        "beat_schedule": beat_schedule(settings, modules),
        "beat_schedule_filename": settings.celery_beat_schedule_file,
        "beat_scheduler": "service.core.celery_task.beat:SingleBeatScheduler",
        "beat_max_loop_interval": max(1, lock_ttl // 3),
    }
    if broker.tls is not None:
        config["broker_use_ssl"] = broker.tls
    if backend.tls is not None:
        config["redis_backend_use_ssl"] = backend.tls
    return config


def create_celery_app(
    settings: Settings, modules: Sequence[Module] = (), *, core_task_modules: Sequence[str] = ()
) -> CeleryApp:
    """A Celery app configured from `settings` for `modules` (the API builds one per container
    to enqueue by name; the worker one per process, importing `core_task_modules` and every
    module's task modules)."""
    check_settings(settings, modules)
    include = [*core_task_modules, *(name for module in modules for name in module.task_modules)]
    celery_app = CeleryApp(settings, include=include, task_cls=BaseTask)
    celery_app.conf.update(celery_config(settings, modules))
    return celery_app
