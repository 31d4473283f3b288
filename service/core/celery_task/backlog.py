"""The Celery backlog, measured out of band for the worker service's autoscaling.

Beat (exactly one, always running, never busy with tasks) reads how many messages wait in each
queue the app declares and publishes `CeleryQueueDepth` (dimension `Queue`) and the total,
`CeleryBacklog`, every `CELERY_QUEUE_DEPTH_INTERVAL_SECONDS`, from a thread of its own process.

A task cannot do this: it waits in the very queue it measures, so when every worker is busy no
reading arrives, and a gap read as "empty" scales the workers in while the queue is backed up.
A reading that fails is skipped (logged), never published as zero: infra treats a missing point
as "do not scale in" and alarms when the metric stops.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from celery import Celery

from service.core.helpers.metrics import MetricsPublisher, backlog_points

logger = logging.getLogger(__name__)


def declared_queues(app: Celery) -> tuple[str, ...]:
    """The queue names of the app's configuration (`task_queues`), in order."""
    queues = app.conf.task_queues or ()
    return tuple(queue.name for queue in queues)


def queue_depths(app: Celery, queues: tuple[str, ...] | None = None) -> dict[str, int]:
    """Messages waiting in each queue, all priority levels summed; reserved ones not counted."""
    names = declared_queues(app) if queues is None else queues
    with app.connection_for_read() as connection:
        # kombu's Redis channel: `_size` sums the queue's priority lists under the key prefix
        # (a passive queue_declare answers 404 for a queue that exists without bindings).
        channel: Any = connection.default_channel
        return {queue: int(channel._size(queue)) for queue in names}


class BacklogReporter:
    """Publishes the backlog every `interval` seconds from a daemon thread until `stop()`."""

    def __init__(self, app: Celery, publisher: MetricsPublisher, *, interval: float) -> None:
        self._app = app
        self._publisher = publisher
        self._interval = interval
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def report_once(self) -> Mapping[str, int] | None:
        """One reading, published; None (and nothing published) when it could not be read."""
        try:
            depths = queue_depths(self._app)
            self._publisher.publish(backlog_points(depths))
        except Exception:  # the next interval tries again; a gap never scales in
            logger.warning("could not publish the Celery backlog", exc_info=True)
            return None
        return depths

    def _run(self) -> None:
        while not self._stopped.is_set():
            self.report_once()
            self._stopped.wait(self._interval)

    def start(self) -> BacklogReporter:
        if self._thread is None:
            self._stopped.clear()
            self._thread = threading.Thread(target=self._run, name="backlog", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stopped.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
