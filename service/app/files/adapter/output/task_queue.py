"""Hands background work on files to Celery (the `files` queue), by task name."""

from __future__ import annotations

import asyncio

from celery import Celery

FILES_QUEUE = "files"
PROCESS_TASK = "files.process"
REMOVE_OBJECT_TASK = "files.remove_object"
EXPIRE_PENDING_TASK = "files.expire_pending_uploads"


class CeleryFileTasks:
    """Publishes by name, so the API process never imports the task module.

    `send_task` talks to the broker synchronously: it runs in a worker thread.
    """

    def __init__(self, app: Celery) -> None:
        self._app = app

    async def _send(self, name: str, file_id: str) -> None:
        await asyncio.to_thread(self._app.send_task, name, args=[file_id], queue=FILES_QUEUE)

    async def process(self, file_id: str) -> None:
        await self._send(PROCESS_TASK, file_id)

    async def remove_object(self, file_id: str) -> None:
        await self._send(REMOVE_OBJECT_TASK, file_id)
