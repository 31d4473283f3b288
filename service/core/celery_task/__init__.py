"""The Celery app of the service: `celery -A service.core.celery_task worker|beat`.

Container entry points (kept exact; the Dockerfile and the infrastructure use them):

    celery -A service.core.celery_task worker --loglevel=INFO -Q default,email,files
    celery -A service.core.celery_task beat --loglevel=INFO

Broker and result store are Redis, configured from the same settings as the API (REDIS_URL,
REDIS_PASSWORD, REDIS_CA_FILE; `rediss://` verifies the server certificate). Every key the
broker and the result store write starts with `<REDIS_KEY_PREFIX>:celery:`.

How a module adds background work
---------------------------------
1. Write its tasks in its own task module, e.g. `service/app/files/adapter/input/tasks.py`:

       from service.core.celery_task import app
       from service.core.celery_task.base import BaseTask
       from service.core.celery_task.runtime import runtime

       @app.task(base=BaseTask, bind=True, name="files.process_upload")
       def process_upload(self: BaseTask, file_id: str) -> str:
           return runtime.run(_process(file_id))  # take ids, reload, make effects idempotent

   Name tasks `<module>.<task>`: routing is by name (`TASK_ROUTES`), so `files.*` goes to the
   `files` queue, `mail.*` to `email`, everything else to `default`.
   Async code uses the worker process's one loop (`runtime.run`) and the clients of the
   application container (`service.app.worker.worker_container()`), never new ones.
2. Add the module path to `INCLUDE` below. Core never imports app (import-linter): the worker
   imports these modules by name, as uvicorn imports an app factory from a string.
3. Periodic work: add an entry to `beat_schedule()` below, naming the task by its string name
   with an interval from settings (the schedule lives in code; only intervals are settings).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import signals
from kombu import Queue

from service.core.celery_task.base import BaseTask, CeleryApp
from service.core.config import Settings, get_settings
from service.core.db.redis.connection import RedisConnection
from service.core.logging import configure_logging

__all__ = [
    "INCLUDE",
    "QUEUES",
    "TASK_ROUTES",
    "BaseTask",
    "CeleryApp",
    "app",
    "beat_schedule",
    "celery_config",
    "create_celery_app",
]

QUEUES = ("default", "email", "files")

# Task modules the worker (and beat) import at start, by name.
INCLUDE = (
    "service.core.celery_task.tasks",
    # The worker bootstrap: container, per-process event loop and clients, Sentry.
    "service.app.worker",
    "service.app.users.adapter.input.tasks",
    "service.app.files.adapter.input.tasks",
)

# Redis transport: lower number, higher priority. Work is sent at DEFAULT_PRIORITY (the routes
# carry it, so `send_task` by name gets it too).
DEFAULT_PRIORITY = 6

# Routing by task name; a task routed to a queue that is not declared is refused at send time.
TASK_ROUTES: dict[str, dict[str, str | int]] = {
    "mail.*": {"queue": "email", "priority": DEFAULT_PRIORITY},
    "files.*": {"queue": "files", "priority": DEFAULT_PRIORITY},
    "*": {"queue": "default", "priority": DEFAULT_PRIORITY},
}


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """Every periodic task, by task name. Beat runs as exactly one instance (see beat.py)."""
    # (The backlog metric is not scheduled work: beat publishes it itself, see backlog.py.)
    return {
        "users.delete-unverified-accounts": {
            "task": "users.delete_unverified_accounts",
            "schedule": timedelta(seconds=settings.unverified_account_cleanup_interval_seconds),
        },
        "files.expire-pending-uploads": {
            "task": "files.expire_pending_uploads",
            "schedule": timedelta(seconds=settings.files_expire_sweep_interval_seconds),
        },
    }


def celery_config(settings: Settings) -> dict[str, Any]:
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
        "task_queues": tuple(Queue(name, routing_key=name) for name in QUEUES),
        "task_default_queue": "default",
        "task_default_routing_key": "default",
        "task_create_missing_queues": False,
        "task_routes": TASK_ROUTES,
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
        "beat_schedule": beat_schedule(settings),
        "beat_schedule_filename": settings.celery_beat_schedule_file,
        "beat_scheduler": "service.core.celery_task.beat:SingleBeatScheduler",
        "beat_max_loop_interval": max(1, lock_ttl // 3),
    }
    if broker.tls is not None:
        config["broker_use_ssl"] = broker.tls
    if backend.tls is not None:
        config["redis_backend_use_ssl"] = backend.tls
    return config


def create_celery_app(settings: Settings) -> CeleryApp:
    """A Celery app configured from `settings` (the API builds one per container to enqueue)."""
    celery_app = CeleryApp(settings, include=list(INCLUDE), task_cls=BaseTask)
    celery_app.conf.update(celery_config(settings))
    return celery_app


@signals.setup_logging.connect
def _json_logging(loglevel: int | str | None = None, **_: Any) -> None:
    """The worker and beat log like the API: one JSON object per line on stdout."""
    level = logging.getLevelName(loglevel) if isinstance(loglevel, int) else loglevel
    configure_logging(str(level or get_settings().log_level))


# The app the CLI finds (`-A service.core.celery_task`), configured from the environment.
app = create_celery_app(get_settings())
