"""Beat's ticks are traces of their own, read from what beat and a real worker exported.

A real beat (the files sweep every second) and a real Celery worker, both with telemetry on and
the OTLP JSON file exporter: each sweep beat sends starts a trace in beat (its publication is
the root: no request is behind it), the worker's run of the sweep continues that trace, and the
sweep's database calls are the run's children. Beat also reports the queue depth as the gauge
`celery.queue.depth`, per queue.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.trace import Span, read_spans, trace_tree
from service.app.files.adapter.output.task_queue import EXPIRE_PENDING_TASK
from tests.service.app.exported import descendants, metric_points, systems
from tests.service.core.celery_task.conftest import module_settings
from tests.service.core.celery_task.processes import (
    celery_beat,
    celery_env,
    celery_worker,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OVERRIDES: dict[str, object] = {
    "files_expire_sweep_interval_seconds": 1,
    "celery_queue_depth_interval_seconds": 0.5,
    "celery_beat_lock_ttl_seconds": 3,
}


def test_each_tick_is_a_trace_of_its_own(
    stack_env: dict[str, str], run_id: str, tmp_path: Path
) -> None:
    settings = module_settings(stack_env, run_id, "beat_trace", **OVERRIDES)
    folder = tmp_path / "telemetry"
    env = celery_env(
        settings,
        **OVERRIDES,
        telemetry_enabled="true",
        telemetry_exporter="file",
        telemetry_file_dir=folder,
        telemetry_sample_ratio="1.0",
        telemetry_metric_interval_seconds="0.5",
        otel_bsp_schedule_delay="100",  # the batch processor exports within 0.1 s, not 5
    )

    def swept_traces() -> list[list[Span]]:
        """The sweep's traces whose run (in the worker) has its database calls."""
        spans = list(read_spans(folder))
        found = []
        for publish in (s for s in spans if s.name == f"apply_async/{EXPIRE_PENDING_TASK}"):
            roots = trace_tree(spans, publish.trace_id)
            tree = [s for root in roots for s in (root, *descendants(root))]
            runs = [s for s in tree if s.name == f"run/{EXPIRE_PENDING_TASK}"]
            if runs and "mongodb" in systems(descendants(runs[0])):
                found.append(roots)
        return found if len(found) >= 2 else []

    with (
        celery_worker(env, tmp_path / "worker.log", concurrency=1),
        celery_beat(env, tmp_path / "beat.log", tmp_path / "schedule"),
    ):
        traces = wait_for(swept_traces, within=60, what="two sweeps' traces from beat to worker")
        depth = wait_for(
            lambda: metric_points(folder, "biwoco-beat", "celery.queue.depth"),
            within=30,
            what="beat's queue-depth gauge",
        )

    # Two ticks, two traces: each its own, rooted in beat's publication.
    assert len({roots[0].trace_id for roots in traces}) == len(traces)
    for roots in traces:
        [root] = roots
        assert (root.service, root.kind) == ("biwoco-beat", "producer"), root
        assert root.name == f"apply_async/{EXPIRE_PENDING_TASK}"
        [run] = [s for s in root.children if s.name == f"run/{EXPIRE_PENDING_TASK}"]
        assert (run.service, run.kind) == ("biwoco-worker", "consumer")
        calls = descendants(run)
        assert {s.service for s in calls} == {"biwoco-worker"}
        assert "mongodb" in systems(calls)
    queues = {point["attributes"]["messaging.destination.name"] for point in depth}
    assert "default" in queues, depth
