"""Use cases of the files API: grant an upload, complete it, list, read, delete."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from service.app.files.application.policy import FilePolicy
from service.app.files.application.processing import remove_now_or_later
from service.app.files.domain.content import content_disposition, sanitize_filename
from service.app.files.domain.entity import (
    FileStatus,
    RejectionReason,
    StoredFile,
    new_file_id,
    object_key,
)
from service.app.files.domain.errors import (
    ContentTypeNotAllowedError,
    FileNotPendingError,
    FileQuotaBytesExceededError,
    FileQuotaCountExceededError,
    FileTooLargeError,
    InvalidFilenameError,
    StoredFileNotFoundError,
    UploadNotFoundError,
)
from service.app.files.domain.ports import (
    FileQuota,
    FileRepository,
    FileTasks,
    ObjectInfo,
    ObjectStorage,
    PresignedUpload,
    QuotaVerdict,
)
from service.core.clock import Clock
from service.core.pagination import Page, decode_cursor

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class UploadGrant:
    file: StoredFile
    upload: PresignedUpload
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Download:
    url: str
    expires_at: datetime


class FileService:
    def __init__(
        self,
        *,
        repository: FileRepository,
        quota: FileQuota,
        storage: ObjectStorage,
        tasks: FileTasks,
        policy: FilePolicy,
        clock: Clock,
    ) -> None:
        self._files = repository
        self._quota = quota
        self._storage = storage
        self._tasks = tasks
        self._policy = policy
        self._clock = clock

    async def grant_upload(
        self, owner_id: str, *, filename: str, content_type: str, size: int
    ) -> UploadGrant:
        policy = self._policy
        name = sanitize_filename(filename)
        if not name:
            raise InvalidFilenameError("filename has no usable characters").with_extra(
                rule="filename"
            )
        if content_type not in policy.allowed_content_types:
            raise ContentTypeNotAllowedError(
                f"content type {content_type!r} is not allowed; allowed: "
                f"{', '.join(sorted(policy.allowed_content_types))}"
            ).with_extra(rule="allowed_content_types")
        if size > policy.max_size_bytes:
            raise FileTooLargeError(
                f"size {size} exceeds the maximum of {policy.max_size_bytes} bytes"
            ).with_extra(rule="max_size_bytes", max_size_bytes=policy.max_size_bytes)

        now = self._clock.now()
        file_id = new_file_id()
        deadline = now + timedelta(seconds=policy.pending_expiry_seconds)
        verdict = await self._quota.reserve(
            owner_id,
            file_id=file_id,
            size=size,
            until=deadline,
            max_count=policy.quota_max_count,
            max_bytes=policy.quota_max_bytes,
        )
        if verdict is QuotaVerdict.COUNT_EXCEEDED:
            raise FileQuotaCountExceededError(
                f"file quota reached: at most {policy.quota_max_count} files"
            ).with_extra(rule="quota_max_count", quota_max_count=policy.quota_max_count)
        if verdict is QuotaVerdict.BYTES_EXCEEDED:
            raise FileQuotaBytesExceededError(
                f"storage quota reached: at most {policy.quota_max_bytes} bytes in total"
            ).with_extra(rule="quota_max_bytes", quota_max_bytes=policy.quota_max_bytes)

        record = StoredFile(
            id=file_id,
            owner_id=owner_id,
            filename=name,
            content_type=content_type,
            size=size,
            key=object_key(owner_id, file_id),
            status=FileStatus.PENDING,
            version=1,
            created_at=now,
            updated_at=now,
            upload_expires_at=deadline,
        )
        try:
            upload = self._storage.presign_upload(
                record.key,
                content_type=content_type,
                size=size,
                expires_in=policy.presign_expiry_seconds,
            )
            await self._files.add(record)
        except BaseException:
            await self._quota.release_hold(owner_id, file_id=file_id, size=size)
            raise
        return UploadGrant(
            file=record,
            upload=upload,
            expires_at=now + timedelta(seconds=policy.presign_expiry_seconds),
        )

    async def _owned(self, owner_id: str, file_id: str) -> StoredFile:
        record = await self._files.get_owned(owner_id, file_id)
        if record is None:
            raise StoredFileNotFoundError("file not found")
        return record

    def _verdict(self, record: StoredFile, info: ObjectInfo) -> RejectionReason | None:
        if info.size != record.size:
            return RejectionReason.SIZE_MISMATCH
        if info.content_type != record.content_type:
            return RejectionReason.CONTENT_TYPE_MISMATCH
        # Which key: the POST policy and the bucket policy pin it (an alias in settings
        # would not compare equal to the key ARN that HEAD reports).
        if self._policy.kms_key_id is not None and info.server_side_encryption != "aws:kms":
            return RejectionReason.ENCRYPTION_MISMATCH
        return None

    async def complete(self, owner_id: str, file_id: str) -> StoredFile:
        """Check the uploaded object against the record: available, or rejected and removed.

        Storage is not trusted to have enforced the POST policy (moto does not): the object's
        own size, type and encryption decide. Of concurrent completes exactly one wins.
        """
        record = await self._owned(owner_id, file_id)
        if record.status is not FileStatus.PENDING:
            raise FileNotPendingError(f"file is {record.status.value}, not pending").with_extra(
                status=record.status.value
            )
        info = await self._storage.head(record.key)
        if info is None:
            raise UploadNotFoundError("nothing was uploaded for this file yet")
        reason = self._verdict(record, info)
        now = self._clock.now()
        target = FileStatus.AVAILABLE if reason is None else FileStatus.REJECTED
        before = await self._files.transition(
            record.id,
            from_statuses=[FileStatus.PENDING],
            to=target,
            at=now,
            rejection_reason=reason,
        )
        if before is None:
            current = await self._owned(owner_id, file_id)
            raise FileNotPendingError(f"file is {current.status.value}, not pending").with_extra(
                status=current.status.value
            )
        if reason is None:
            await self._quota.commit(record.owner_id, file_id=record.id, size=record.size)
            await self._tasks.process(record.id)
        else:
            logger.info("upload rejected", extra={"file_id": record.id, "reason": reason.value})
            await self._quota.release_hold(record.owner_id, file_id=record.id, size=record.size)
            await remove_now_or_later(self._storage, self._tasks, record)
        return await self._owned(owner_id, file_id)

    async def get(self, owner_id: str, file_id: str) -> tuple[StoredFile, Download | None]:
        record = await self._owned(owner_id, file_id)
        if record.status is not FileStatus.AVAILABLE:
            return record, None
        expires_in = self._policy.download_url_expiry_seconds
        url = self._storage.presign_download(
            record.key,
            content_type=record.content_type,
            content_disposition=content_disposition(record.filename),
            expires_in=expires_in,
        )
        return record, Download(
            url=url, expires_at=self._clock.now() + timedelta(seconds=expires_in)
        )

    async def list(self, owner_id: str, *, limit: int, cursor: str | None) -> Page[StoredFile]:
        after = decode_cursor(cursor) if cursor else None
        return await self._files.list_owned(owner_id, limit=limit, after=after)

    async def delete(self, owner_id: str, file_id: str) -> None:
        """Marked deleted at once (it disappears from every read); a task removes the object."""
        record = await self._owned(owner_id, file_id)
        before = await self._files.transition(
            record.id,
            from_statuses=[s for s in FileStatus if s is not FileStatus.DELETED],
            to=FileStatus.DELETED,
            at=self._clock.now(),
        )
        if before is None:  # deleted concurrently, or the upload's deadline passed meanwhile
            raise StoredFileNotFoundError("file not found")
        if before.status is FileStatus.PENDING:
            await self._quota.release_hold(before.owner_id, file_id=before.id, size=before.size)
        elif before.status is FileStatus.AVAILABLE:
            await self._quota.release(before.owner_id, size=before.size)
        await self._tasks.remove_object(record.id)
