"""The files module: uploads to S3 through presigned POSTs (/api/v1/files), processed by tasks."""

from __future__ import annotations

from service.app.files.adapter.input.api.v1.router import document_upload_policy, files_router
from service.app.files.adapter.output.repository import FILES_INDEX_PLAN
from service.app.files.adapter.output.task_queue import EXPIRE_PENDING_TASK
from service.app.files.container import FilesContainer
from service.app.files.settings import FilesSettings
from service.core.module import BeatEntry, Module

module = Module(
    name="files",
    container=FilesContainer,
    settings=FilesSettings,
    routers=(files_router,),
    refine_openapi=document_upload_policy,
    index_plan=FILES_INDEX_PLAN,
    task_modules=("service.app.files.adapter.input.tasks",),
    queues=("files",),
    beat=(
        BeatEntry(
            name="files.expire-pending-uploads",
            task=EXPIRE_PENDING_TASK,
            every=lambda settings: settings.files_expire_sweep_interval_seconds,
        ),
    ),
)
