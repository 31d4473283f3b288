"""Beat measures the Celery backlog out of band: the readings keep coming while every worker is
busy (a task that measured it waited behind the backlog, so none came then, and the gap was read
as an empty queue), and a reading that cannot be taken publishes nothing rather than a zero."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.core.celery_task import CeleryApp, create_celery_app
from service.core.celery_task.backlog import BacklogReporter, declared_queues
from service.core.config import Settings
from service.core.helpers.metrics import BACKLOG_METRIC, QUEUE_DEPTH_METRIC, LogMetricsPublisher
from tests.service.core.celery_task.conftest import module_settings, producer
from tests.service.core.celery_task.processes import (
    celery_beat,
    celery_env,
    celery_worker,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WAITING = 12
OVERRIDES: dict[str, object] = {
    "celery_queue_depth_interval_seconds": 0.5,
    "celery_beat_lock_ttl_seconds": 3,
}


@pytest.fixture(scope="module")
def celery_settings(stack_env: dict[str, str], run_id: str) -> Settings:
    return module_settings(stack_env, run_id, "backlog", **OVERRIDES)


@pytest.fixture(scope="module")
def celery_app(celery_settings: Settings) -> Iterator[CeleryApp]:
    with producer(celery_settings) as app:
        yield app


def test_the_backlog_is_reported_while_every_worker_is_busy(
    celery_app: CeleryApp, celery_settings: Settings, tmp_path: Path
) -> None:
    redis = celery_app.backend_redis
    probe = f"{celery_settings.redis_key_prefix}:ops:probe:busy"
    env = celery_env(celery_settings, **OVERRIDES)
    # One worker slot, taken by a task that holds it until released.
    with celery_worker(env, tmp_path / "worker.log", concurrency=1):
        celery_app.send_task("ops.probe", args=["busy"], kwargs={"hold_seconds": 120})
        wait_for(lambda: bool(redis.exists(f"{probe}:holding")), what="the worker to be busy")
        for i in range(WAITING):
            celery_app.send_task("ops.probe", args=[f"waiting-{i}"])
        try:
            with celery_beat(env, tmp_path / "beat.log", tmp_path / "schedule") as beat:
                wait_for(
                    lambda: len(beat.metric_readings(BACKLOG_METRIC, {})) >= 3,
                    within=30,
                    what="three backlog readings while the only worker is busy",
                )
                totals = beat.metric_readings(BACKLOG_METRIC, {})
                default = beat.metric_readings(QUEUE_DEPTH_METRIC, {"Queue": "default"})
        finally:
            redis.set(f"{probe}:release", "1", ex=60)
    # The waiting tasks are all counted (beat's own periodic tasks may add to them).
    assert min(totals) >= WAITING, totals
    assert min(default) >= WAITING, default
    for queue in declared_queues(celery_app):
        assert beat.metric_readings(QUEUE_DEPTH_METRIC, {"Queue": queue}), queue


def test_a_reading_that_fails_publishes_nothing(
    celery_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    unreachable = create_celery_app(
        celery_settings.model_copy(
            update={"redis_url": "redis://127.0.0.1:9/0", "redis_timeout_seconds": 0.2}
        )
    )
    unreachable.conf.broker_connection_max_retries = 0
    unreachable.conf.broker_transport_options = {
        **unreachable.conf.broker_transport_options,
        "socket_connect_timeout": 0.2,
        "max_retries": 0,
    }
    reporter = BacklogReporter(unreachable, LogMetricsPublisher("Test"), interval=60)
    with caplog.at_level(logging.INFO):
        assert reporter.report_once() is None
    assert not [r for r in caplog.records if r.getMessage() == "metric"], "no zero published"
    assert "could not publish the Celery backlog" in caplog.text
