"""Per task name: runs, failures, retries and duration, from Celery's signals.

`messaging.process.duration` (seconds) has one point per run; its count per `celery.task.name`
is the runs, with `error.type` the failures (`celery.task.state` tells success, failure and
retry apart). `celery.task.retries` counts retries by task and reason. Recorded whether or not
the run's trace is sampled.
"""

from __future__ import annotations

import time
from typing import Any

from celery import Task, signals
from opentelemetry.metrics import Meter

# Seconds: tasks run from milliseconds to the soft time limit (minutes).
TASK_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class TaskMetrics:
    def __init__(self, meter: Meter) -> None:
        self._duration = meter.create_histogram(
            "messaging.process.duration",
            unit="s",
            description="Duration of Celery task runs.",
            explicit_bucket_boundaries_advisory=TASK_DURATION_BUCKETS,
        )
        self._retries = meter.create_counter(
            "celery.task.retries", unit="{retry}", description="Celery task retries scheduled."
        )
        self._started: dict[str, float] = {}
        self._errors: dict[str, str] = {}

    def connect(self) -> None:
        signals.task_prerun.connect(self._prerun, weak=False)
        signals.task_failure.connect(self._failure, weak=False)
        signals.task_retry.connect(self._retry, weak=False)
        signals.task_postrun.connect(self._postrun, weak=False)

    def _prerun(self, task_id: str | None = None, **_: Any) -> None:
        if task_id is not None:
            self._started[task_id] = time.perf_counter()

    def _failure(
        self, task_id: str | None = None, exception: BaseException | None = None, **_: Any
    ) -> None:
        if task_id is not None and exception is not None:
            self._errors[task_id] = type(exception).__qualname__

    def _retry(self, sender: Task | None = None, reason: object = None, **_: Any) -> None:  # type: ignore[type-arg]
        self._retries.add(
            1,
            {
                "celery.task.name": getattr(sender, "name", None) or "unknown",
                "error.type": type(reason).__qualname__,
            },
        )

    def _postrun(
        self,
        task_id: str | None = None,
        task: Task | None = None,  # type: ignore[type-arg]
        state: str | None = None,
        **_: Any,
    ) -> None:
        started = self._started.pop(task_id, None) if task_id is not None else None
        if started is None or task is None:
            return
        delivery = getattr(task.request, "delivery_info", None) or {}
        attributes = {
            "messaging.system": "celery",
            "messaging.operation.name": "process",
            "messaging.destination.name": str(delivery.get("routing_key") or "unknown"),
            "celery.task.name": task.name,
            "celery.task.state": state or "unknown",
        }
        error = self._errors.pop(task_id, None) if task_id is not None else None
        if error is not None:
            attributes["error.type"] = error
        self._duration.record(time.perf_counter() - started, attributes)
