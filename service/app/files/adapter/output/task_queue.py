"""Hands background work on files to Celery by task name (`files.*`: the module's queue)."""

from __future__ import annotations

from service.core.celery_task.publisher import TaskPublisher

PROCESS_TASK = "files.process"
REMOVE_OBJECT_TASK = "files.remove_object"
EXPIRE_PENDING_TASK = "files.expire_pending_uploads"
RECONCILE_QUOTAS_TASK = "files.reconcile_quotas"


class CeleryFileTasks:
    def __init__(self, publisher: TaskPublisher) -> None:
        self._publisher = publisher

    async def process(self, file_id: str) -> None:
        await self._publisher.send(PROCESS_TASK, file_id)

    async def remove_object(self, file_id: str) -> None:
        await self._publisher.send(REMOVE_OBJECT_TASK, file_id)
