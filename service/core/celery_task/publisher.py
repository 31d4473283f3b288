"""Sending a task by name from async code: the API, and tasks that enqueue follow-up work.

By name, so the sending process never imports the task module; routed by name (`<module>.*` to
the module's queue). `send_task` talks to the broker synchronously: it runs in a worker thread,
off the event loop. A broker that cannot be reached (after the publish retries) is the
client's 503 `broker_unavailable`, as a store outage is, not a 500.

`asyncio.to_thread` copies the caller's context, so the trace continues in the thread: the span
`send <task>` holds the broker's calls and the Celery instrumentation's publication, whose
context travels in the message to the task's run. (Sent by name, the task is not registered in
the sender, and the instrumentation's own publish span ends at once.)
"""

from __future__ import annotations

import asyncio

from celery import Celery
from kombu.exceptions import OperationalError
from opentelemetry import trace

from service.core.exceptions import ServiceUnavailableError

_tracer = trace.get_tracer("biwoco.celery")


class TaskPublisher:
    def __init__(self, app: Celery) -> None:
        self._app = app

    async def send(self, name: str, *args: object) -> None:
        with _tracer.start_as_current_span(f"send {name}", attributes={"celery.task_name": name}):
            try:
                # Nobody waits for a result: no subscription to its channel, none stored.
                await asyncio.to_thread(
                    self._app.send_task, name, args=list(args), ignore_result=True
                )
            except OperationalError as error:
                raise ServiceUnavailableError(
                    "The task queue is unavailable; retry later", code="broker_unavailable"
                ) from error
