"""Beat runs as exactly one instance.

Two guards: the deployment runs one beat task (ECS service desired = min = max = 1, in infra),
and `SingleBeatScheduler` holds a Redis lock (SET NX with a TTL, renewed every tick, released
on shutdown). A second beat that starts while the lock is held refuses to start (it exits with
an error naming the lock); if a beat dies without releasing it, the lock expires after
CELERY_BEAT_LOCK_TTL_SECONDS and the next beat takes over.

The beat that holds the lock also publishes the Celery backlog (backlog.py) from a thread of its
own, and touches `<schedule file>.alive` every tick: the container health check reads its age.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from pathlib import Path
from typing import Any

import redis
from celery.beat import PersistentScheduler

from service.core.celery_task.backlog import BacklogReporter
from service.core.celery_task.base import CeleryApp
from service.core.helpers.metrics import build_metrics_publisher

logger = logging.getLogger(__name__)

# Renew only if the lock is still ours.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class BeatAlreadyRunning(RuntimeError):
    pass


class BeatLockLost(SystemExit):
    pass


def heartbeat_path(schedule_filename: str) -> Path:
    """The file beat touches every tick (the container health check reads its age)."""
    return Path(f"{schedule_filename}.alive")


class SingleBeatScheduler(PersistentScheduler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._lock_token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lock_held = False
        self._backlog: BacklogReporter | None = None
        # Celery's beat passes the file (--schedule, else beat_schedule_filename) by keyword.
        self._heartbeat = heartbeat_path(str(kwargs.get("schedule_filename")))
        super().__init__(*args, **kwargs)

    @property
    def _celery(self) -> CeleryApp:
        if not isinstance(self.app, CeleryApp):
            raise TypeError("SingleBeatScheduler needs a CeleryApp")
        return self.app

    @property
    def lock_key(self) -> str:
        return f"{self._celery.settings.redis_key_prefix}:celery:beat-lock"

    @property
    def _lock_ttl(self) -> int:
        return self._celery.settings.celery_beat_lock_ttl_seconds

    def _redis(self) -> redis.Redis:
        return self._celery.backend_redis

    def setup_schedule(self) -> None:
        self._acquire()
        super().setup_schedule()
        settings = self._celery.settings
        self._backlog = BacklogReporter(
            self._celery,
            build_metrics_publisher(settings),
            interval=settings.celery_queue_depth_interval_seconds,
        ).start()

    def _acquire(self) -> None:
        client = self._redis()
        if not client.set(self.lock_key, self._lock_token, nx=True, ex=self._lock_ttl):
            holder = client.get(self.lock_key)
            raise BeatAlreadyRunning(
                f"another beat holds {self.lock_key} ({holder!r}); refusing to start a second one"
            )
        self._lock_held = True
        logger.info("beat lock acquired", extra={"lock": self.lock_key})

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if self._lock_held:
            try:
                renewed = self._redis().eval(
                    _RENEW, 1, self.lock_key, self._lock_token, self._lock_ttl
                )
            except Exception:  # Redis unreachable: keep scheduling, retry on the next tick
                logger.warning("could not renew the beat lock", exc_info=True)
            else:
                if not renewed:
                    self._lock_held = False
                    logger.error("beat lock lost to another beat; stopping")
                    raise BeatLockLost(1)
        interval: float = super().tick(*args, **kwargs)
        self._heartbeat.touch()
        return interval

    def close(self) -> None:
        backlog, self._backlog = self._backlog, None
        if backlog is not None:
            backlog.stop()
        try:
            super().close()
        finally:
            if self._lock_held:
                self._lock_held = False
                try:
                    self._redis().eval(_RELEASE, 1, self.lock_key, self._lock_token)
                    logger.info("beat lock released", extra={"lock": self.lock_key})
                except Exception:
                    logger.warning("could not release the beat lock", exc_info=True)
