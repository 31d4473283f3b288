"""Beat with short test intervals runs its periodic tasks again and again, and only one beat
runs: a second one refuses to start while the first holds the Redis lock, and the lock passes
on when the holder stops (released) or dies (expired).

In AWS the deployment also runs exactly one beat (ECS service desired = min = max = 1); the
lock is what this test can check, and it covers a deployment overlap or a stray manual beat.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.core.celery_task import CeleryApp
from service.core.config import Settings
from tests.service.core.celery_task.conftest import module_settings, producer
from tests.service.core.celery_task.processes import (
    CeleryProcess,
    celery_env,
    celery_worker,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OVERRIDES: dict[str, object] = {
    "celery_queue_depth_interval_seconds": 1,
    "unverified_account_cleanup_interval_seconds": 1,
    "files_expire_sweep_interval_seconds": 1,
    "celery_beat_lock_ttl_seconds": 3,
}


@pytest.fixture(scope="module")
def celery_settings(stack_env: dict[str, str], run_id: str) -> Settings:
    return module_settings(stack_env, run_id, "beat", **OVERRIDES)


@pytest.fixture(scope="module")
def celery_app(celery_settings: Settings) -> Iterator[CeleryApp]:
    with producer(celery_settings) as app:
        yield app


def beat(settings: Settings, directory: Path, name: str) -> CeleryProcess:
    env = celery_env(settings, **OVERRIDES)
    return CeleryProcess("beat", env, directory / f"{name}.log", f"--schedule={directory / name}")


def succeeded(worker: CeleryProcess, task: str) -> int:
    return len(re.findall(rf"Task {re.escape(task)}\[[0-9a-f-]+\] succeeded", worker.text()))


def test_beat_runs_periodic_tasks_repeatedly_and_only_one_beat_runs(
    celery_app: CeleryApp, celery_settings: Settings, tmp_path: Path
) -> None:
    redis = celery_app.backend_redis
    lock = f"{celery_settings.redis_key_prefix}:celery:beat-lock"
    env = celery_env(celery_settings, **OVERRIDES)

    with celery_worker(env, tmp_path / "worker.log") as worker:
        first = beat(celery_settings, tmp_path, "beat-1").start().wait_ready()
        try:
            wait_for(
                lambda: (
                    succeeded(worker, "files.expire_pending_uploads") >= 2
                    and succeeded(worker, "users.delete_unverified_accounts") >= 2
                ),
                what="each periodic task to run twice",
            )

            # A second beat refuses to start while the first holds the lock.
            second = beat(celery_settings, tmp_path, "beat-2").start()
            assert second.process is not None
            assert second.process.wait(timeout=60) != 0
            assert "refusing to start a second one" in second.text()
            assert first.process is not None
            assert first.process.poll() is None
            assert redis.get(lock) is not None
        finally:
            assert first.stop() == 0, first.text()[-3000:]
        # Stopped cleanly, the first beat released the lock at once.
        assert redis.get(lock) is None

        # A beat that dies (SIGKILL) cannot release it: the lock expires, then a beat starts.
        third = beat(celery_settings, tmp_path, "beat-3").start().wait_ready()
        third.kill(signal.SIGKILL)
        assert redis.get(lock) is not None
        wait_for(lambda: redis.get(lock) is None, within=30, what="the lock to expire")
        fourth = beat(celery_settings, tmp_path, "beat-4").start().wait_ready()
        assert fourth.stop() == 0, fourth.text()[-3000:]
