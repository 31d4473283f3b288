"""The files module's providers (uploads to S3, their records and quota), built on core."""

from __future__ import annotations

from dependency_injector import containers, providers

from service.app.files.adapter.output.repository import MongoFileQuota, MongoFileRepository
from service.app.files.adapter.output.storage import S3ObjectStorage, build_s3_client
from service.app.files.adapter.output.task_queue import CeleryFileTasks
from service.app.files.application.file_service import FileService
from service.app.files.application.policy import FilePolicy
from service.app.files.application.processing import FileProcessing
from service.app.files.settings import FilesSettings


def _file_policy(settings: FilesSettings) -> FilePolicy:
    return FilePolicy(
        allowed_content_types=frozenset(settings.files_allowed_content_types),
        max_size_bytes=settings.files_max_size_bytes,
        quota_max_count=settings.files_quota_max_count,
        quota_max_bytes=settings.files_quota_max_bytes,
        presign_expiry_seconds=settings.files_presign_expiry_seconds,
        download_url_expiry_seconds=settings.files_download_url_expiry_seconds,
        pending_expiry_seconds=settings.files_pending_expiry_seconds,
        kms_key_id=settings.s3_kms_key_id,
    )


class FilesContainer(containers.DeclarativeContainer):
    core = providers.DependenciesContainer()
    settings = core.settings

    # One boto3 S3 client per process (thread-safe; its calls run in threads).
    s3_client = providers.Singleton(build_s3_client, settings=settings)
    storage = providers.Singleton(
        S3ObjectStorage,
        client=s3_client,
        bucket=settings.provided.s3_bucket,
        kms_key_id=settings.provided.s3_kms_key_id,
    )
    policy = providers.Singleton(_file_policy, settings=settings)
    repository = providers.Singleton(MongoFileRepository, database=core.database, clock=core.clock)
    quota = providers.Singleton(MongoFileQuota, database=core.database, clock=core.clock)
    tasks = providers.Singleton(CeleryFileTasks, publisher=core.task_publisher)
    service = providers.Singleton(
        FileService,
        repository=repository,
        quota=quota,
        storage=storage,
        tasks=tasks,
        policy=policy,
        clock=core.clock,
    )
    processing = providers.Singleton(
        FileProcessing,
        repository=repository,
        quota=quota,
        storage=storage,
        tasks=tasks,
        clock=core.clock,
    )
