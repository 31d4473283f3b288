"""500 tasks enqueued in a burst all complete, none is lost, and the queue-depth metric that
beat publishes (to beat's log here; CloudWatch in AWS) reports the backlog as it drains.

The burst is enqueued before the worker starts, so the backlog is really there; beat reads the
queues itself (backlog.py), out of band, so its readings never wait behind the backlog.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from service.app.modules import MODULES
from service.core.celery_task import CeleryApp, beat_schedule
from service.core.config import Settings
from service.core.helpers.metrics import QUEUE_DEPTH_METRIC
from tests.service.core.celery_task.conftest import (
    module_settings,
    producer,
    sync_mongo,
)
from tests.service.core.celery_task.processes import (
    celery_beat,
    celery_env,
    celery_worker,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BURST = 500
OVERRIDES: dict[str, object] = {
    "celery_queue_depth_interval_seconds": 0.5,
    "celery_beat_lock_ttl_seconds": 3,
}


@pytest.fixture(scope="module")
def celery_settings(stack_env: dict[str, str], run_id: str) -> Settings:
    return module_settings(stack_env, run_id, "burst", **OVERRIDES)


@pytest.fixture(scope="module")
def celery_app(celery_settings: Settings) -> Iterator[CeleryApp]:
    with producer(celery_settings) as app:
        yield app


def test_a_burst_of_500_tasks_all_complete_and_the_depth_metric_follows_the_backlog(
    celery_app: CeleryApp, celery_settings: Settings, tmp_path: Path
) -> None:
    results = [
        celery_app.send_task(
            "ops.probe", args=[f"burst-{i}"], kwargs={"batch": "burst", "work_seconds": 0.02}
        )
        for i in range(BURST)
    ]
    env = celery_env(celery_settings, **OVERRIDES)
    # Beat first: its first reading sees the whole backlog.
    with (
        celery_beat(env, tmp_path / "beat.log", tmp_path / "schedule") as beat,
        celery_worker(env, tmp_path / "worker.log"),
    ):
        with sync_mongo(celery_settings) as mongo:
            probes = mongo[celery_settings.mongodb_db]["ops_probes"]

            def effects() -> bool:
                return probes.count_documents({"batch": "burst"}) >= BURST

            wait_for(effects, within=180, interval=0.5, what="all 500 effects")
        # The metric saw the backlog, then saw it drained.
        wait_for(
            lambda: 0.0 in beat.metric_readings(QUEUE_DEPTH_METRIC, {"Queue": "default"})[1:],
            within=30,
            what="a zero depth reading after the burst",
        )
        readings = beat.metric_readings(QUEUE_DEPTH_METRIC, {"Queue": "default"})

    with sync_mongo(celery_settings) as mongo:
        assert (
            mongo[celery_settings.mongodb_db]["ops_probes"].count_documents({"batch": "burst"})
            == BURST
        )  # each effect exactly once
    assert all(result.state == "SUCCESS" for result in results)
    assert len({result.id for result in results}) == BURST
    assert readings[0] > 0, readings  # the first reading saw the backlog
    # Beat's first tick also enqueues its other periodic tasks, on every queue; the total the
    # metric reports counts every declared queue (backlog.py), so each may be in a reading.
    periodic = list(beat_schedule(celery_settings, MODULES).values())
    assert max(readings) <= BURST + len(periodic), readings
    first_zero = readings.index(0.0)
    assert first_zero > 0
    assert all(value == 0.0 for value in readings[first_zero:])
