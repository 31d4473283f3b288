"""Kill -9 a worker in the middle of a task: a new worker runs it again, its effect happens once.

With acks_late the message stays unacknowledged while the task runs; the killed worker never
acks it, so after the visibility timeout (short here) the next worker takes it back. The probe
task performs its effect through the effect ledger before it blocks, so the second delivery
finds the effect done and does not repeat it.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.core.celery_task import CeleryApp
from service.core.config import Settings
from tests.service.core.celery_task.conftest import module_settings, producer, sync_mongo
from tests.service.core.celery_task.processes import CeleryProcess, celery_env, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Visibility timeout must exceed the time limit plus the longest retry backoff (settings check).
OVERRIDES: dict[str, object] = {
    "celery_visibility_timeout_seconds": 8,
    "celery_unacked_restore_interval_seconds": 1,
    "celery_task_soft_time_limit_seconds": 5,
    "celery_task_time_limit_seconds": 6,
    "celery_retry_backoff_base_seconds": 0.2,
    "celery_retry_backoff_max_seconds": 1,
}


@pytest.fixture(scope="module")
def celery_settings(stack_env: dict[str, str], run_id: str) -> Settings:
    return module_settings(stack_env, run_id, "redelivery", **OVERRIDES)


@pytest.fixture(scope="module")
def celery_app(celery_settings: Settings) -> Iterator[CeleryApp]:
    with producer(celery_settings) as app:
        yield app


def worker(settings: Settings, log: Path) -> CeleryProcess:
    return CeleryProcess(
        "worker",
        celery_env(settings, **OVERRIDES),
        log,
        "--concurrency=1",
        "--without-mingle",
        "--without-gossip",
    )


def test_a_task_killed_mid_way_runs_again_and_its_effect_happens_once(
    celery_app: CeleryApp, celery_settings: Settings, tmp_path: Path
) -> None:
    redis = celery_app.backend_redis
    probe_key = f"{celery_settings.redis_key_prefix}:ops:probe:kill-1"

    first = worker(celery_settings, tmp_path / "worker-1.log").start().wait_ready()
    try:
        result = celery_app.send_task("ops.probe", args=["kill-1"], kwargs={"hold_seconds": 4})
        # The effect is done and the task is blocked after it, not yet acknowledged.
        wait_for(lambda: redis.exists(f"{probe_key}:holding"), what="the probe to hold")
        first.kill(signal.SIGKILL)
    finally:
        first.stop()
    assert result.state == "STARTED"
    assert redis.get(f"{probe_key}:deliveries") == b"1"

    redis.set(f"{probe_key}:release", "1")  # the second delivery does not block
    second = worker(celery_settings, tmp_path / "worker-2.log").start().wait_ready()
    try:
        assert result.get(timeout=60) == "done"
    finally:
        second.stop()

    assert redis.get(f"{probe_key}:deliveries") == b"2"  # it ran again...
    with sync_mongo(celery_settings) as mongo:
        effects = mongo[celery_settings.mongodb_db]["ops_probes"].count_documents(
            {"probe_id": "kill-1"}
        )
    assert effects == 1  # ...and its effect happened exactly once
