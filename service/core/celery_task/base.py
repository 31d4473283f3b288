"""The Celery app class and the base task: retry policy and failure records."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import redis
from celery import Celery, Task
from celery.exceptions import Retry

from service.core.celery_task.errors import backoff_seconds, is_transient
from service.core.config import Settings

logger = logging.getLogger(__name__)

# Failed-task records kept for inspection and replay (newest first).
FAILED_TASKS_KEEP = 1000


class CeleryApp(Celery):
    """A Celery app that knows the service settings it was configured from."""

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        super().__init__(settings.app_name, **kwargs)
        self.settings = settings

    @property
    def failed_tasks_key(self) -> str:
        return f"{self.settings.redis_key_prefix}:celery:failed"

    @property
    def backend_redis(self) -> redis.Redis:
        """The result store's (sync) client: same URL, password and TLS options as the broker."""
        client = getattr(self.backend, "client", None)
        if not isinstance(client, redis.Redis):
            raise TypeError("the result store is not Redis")
        return client


class BaseTask(Task):  # type: ignore[type-arg]
    """Retries transient errors with exponential backoff and jitter; never the others.

    Every task of the service uses it (`@app.task(base=BaseTask, bind=True, name=...)`).
    Task arguments are ids, never documents: a task reloads what it works on, so a retried or
    redelivered task sees current data.
    """

    abstract = True
    acks_late = True
    reject_on_worker_lost = True

    @property
    def service_settings(self) -> Settings:
        app = self.app
        if not isinstance(app, CeleryApp):
            raise TypeError("tasks must belong to a CeleryApp")
        return app.settings

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except Retry:
            raise
        except Exception as error:
            if not is_transient(error) or self.request.called_directly:
                raise
            settings = self.service_settings
            retries = int(self.request.retries or 0)
            countdown = backoff_seconds(
                retries,
                base=settings.celery_retry_backoff_base_seconds,
                cap=settings.celery_retry_backoff_max_seconds,
            )
            logger.warning(
                "task failed with a transient error; retrying",
                extra={
                    "task": self.name,
                    "task_id": self.request.id,
                    "error": type(error).__name__,
                    "retries": retries,
                    "countdown": round(countdown, 3),
                },
            )
            # Past max_retries, retry() re-raises `error`: the task fails and is recorded.
            raise self.retry(
                exc=error, countdown=countdown, max_retries=settings.celery_max_retries
            ) from error

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        """A final failure: logged, and recorded in Redis beside the result store's record."""
        record = {
            "task_id": task_id,
            "task": self.name,
            "args": args,
            "kwargs": kwargs,
            "error": type(exc).__name__,
            "detail": str(exc)[:500],
            "retries": int(self.request.retries or 0),
            "failed_at": datetime.now(UTC).isoformat(),
        }
        logger.error(
            "task failed",
            extra={
                "task": self.name,
                "task_id": task_id,
                "error": record["error"],
                "retries": record["retries"],
            },
        )
        app = self.app
        if not isinstance(app, CeleryApp):
            return
        try:
            client = app.backend_redis
            with client.pipeline() as pipe:
                pipe.lpush(app.failed_tasks_key, json.dumps(record, default=str))
                pipe.ltrim(app.failed_tasks_key, 0, FAILED_TASKS_KEEP - 1)
                pipe.execute()
        except Exception:  # recording must never hide the task's own failure
            logger.exception("could not record the failed task", extra={"task_id": task_id})
