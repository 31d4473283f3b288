"""Sending a task by name from async code: the API, and tasks that enqueue follow-up work.

By name, so the sending process never imports the task module; routed by name (`<module>.*` to
the module's queue). `send_task` talks to the broker synchronously: it runs in a worker thread,
off the event loop.
"""

from __future__ import annotations

import asyncio

from celery import Celery


class TaskPublisher:
    def __init__(self, app: Celery) -> None:
        self._app = app

    async def send(self, name: str, *args: object) -> None:
        await asyncio.to_thread(self._app.send_task, name, args=list(args))
