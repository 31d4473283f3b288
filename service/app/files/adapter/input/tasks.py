"""Celery tasks of the files module (the `files` queue, routed by the `files.` name prefix).

Thin wrappers: each takes an id, runs the application function on the worker process's loop
with the container's services, and is idempotent (the functions reload and check state).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from botocore.exceptions import ClientError
from celery import shared_task

from service.app.files.adapter.output.task_queue import (
    EXPIRE_PENDING_TASK,
    PROCESS_TASK,
    REMOVE_OBJECT_TASK,
)
from service.app.files.application.processing import FileProcessing
from service.app.files.container import FilesContainer
from service.core.celery_task.base import BaseTask
from service.core.celery_task.errors import TransientTaskError
from service.core.worker.runtime import runtime

T = TypeVar("T")

# S3 answers that pass: throttling and server-side errors.
_TRANSIENT_S3 = frozenset({"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout"})


async def _with_processing(work: Callable[[FileProcessing], Awaitable[T]]) -> T:
    processing = await runtime.resolve(FilesContainer.processing)
    try:
        return await work(processing)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code"))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        if code in _TRANSIENT_S3 or status >= 500:
            raise TransientTaskError(f"S3 {code}") from error
        raise


@shared_task(base=BaseTask, bind=True, name=PROCESS_TASK)
def process_file(self: BaseTask, file_id: str) -> str:
    """sha256 and size of the object; leading bytes against the declared type."""
    return runtime.run(_with_processing(lambda files: files.process(file_id)))


@shared_task(base=BaseTask, bind=True, name=REMOVE_OBJECT_TASK)
def remove_object(self: BaseTask, file_id: str) -> bool:
    """Remove the object of a deleted or rejected file (never of a live one)."""
    return runtime.run(_with_processing(lambda files: files.remove_object(file_id)))


@shared_task(base=BaseTask, bind=True, name=EXPIRE_PENDING_TASK)
def expire_pending_uploads(self: BaseTask) -> int:
    """Periodic (beat): objects and records that abandoned uploads left behind are removed."""
    return runtime.run(_with_processing(lambda files: files.clear_abandoned_uploads()))
