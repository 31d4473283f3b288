"""What the files application needs from the outside: metadata store, quota, storage, tasks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from service.app.files.domain.entity import FileStatus, RejectionReason, StoredFile
from service.core.pagination import Cursor, Page


class FileRepository(Protocol):
    async def add(self, file: StoredFile) -> None: ...

    async def get(self, file_id: str) -> StoredFile | None:
        """The file in any status; None when missing or an expired pending upload."""
        ...

    async def get_owned(self, owner_id: str, file_id: str) -> StoredFile | None:
        """The owner's file in a visible status; None for anyone else's, a deleted one, or an
        expired pending upload."""
        ...

    async def transition(
        self,
        file_id: str,
        *,
        from_statuses: Sequence[FileStatus],
        to: FileStatus,
        at: datetime,
        rejection_reason: RejectionReason | None = None,
    ) -> StoredFile | None:
        """Atomically move a file out of one of `from_statuses`; the state it had, else None.

        The one way a status changes: of concurrent callers, exactly one wins. A pending upload
        past its deadline (at `at`) moves nowhere.
        """
        ...

    async def record_digest(self, file_id: str, *, sha256: str, at: datetime) -> bool:
        """Store the checksum of an available, not yet processed file; False otherwise."""
        ...

    async def list_owned(
        self, owner_id: str, *, limit: int, after: Cursor | None
    ) -> Page[StoredFile]:
        """A page of the owner's visible files, newest first (expired pending uploads left
        out)."""
        ...

    async def abandoned(self, *, now: datetime, limit: int) -> list[StoredFile]:
        """Pending uploads past their deadline whose records are still stored, oldest first."""
        ...

    async def forget_abandoned(self, file_id: str, *, now: datetime) -> bool:
        """Remove the record of a pending upload past its deadline; False if there is none."""
        ...


class QuotaVerdict(StrEnum):
    GRANTED = "granted"
    COUNT_EXCEEDED = "count_exceeded"
    BYTES_EXCEEDED = "bytes_exceeded"


class FileQuota(Protocol):
    """Per-owner usage (files and declared bytes) of `available` files and of the holds of
    `pending` uploads; a hold counts until its deadline and not after, with nothing run."""

    async def reserve(
        self,
        owner_id: str,
        *,
        file_id: str,
        size: int,
        until: datetime,
        max_count: int,
        max_bytes: int,
    ) -> QuotaVerdict:
        """Hold one file of `size` bytes for the upload `file_id` until `until`, if within the
        limits; exact under concurrency."""
        ...

    async def commit(self, owner_id: str, *, file_id: str, size: int) -> None:
        """The held upload became an available file: its hold becomes usage."""
        ...

    async def release_hold(self, owner_id: str, *, file_id: str, size: int) -> None:
        """The held upload ended without a file (rejected, deleted, abandoned)."""
        ...

    async def release(self, owner_id: str, *, size: int) -> None:
        """An available file ended (rejected by post-processing, deleted)."""
        ...


@dataclass(frozen=True, slots=True)
class PresignedUpload:
    url: str
    fields: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    size: int
    content_type: str | None
    server_side_encryption: str | None
    kms_key_id: str | None


class ObjectStorage(Protocol):
    def presign_upload(
        self, key: str, *, content_type: str, size: int, expires_in: int
    ) -> PresignedUpload:
        """A POST policy pinning the key, the exact content type and the exact length."""
        ...

    def presign_download(
        self, key: str, *, content_type: str, content_disposition: str, expires_in: int
    ) -> str: ...

    async def head(self, key: str) -> ObjectInfo | None:
        """The object's metadata; None when there is no such object."""
        ...

    def read(self, key: str, *, chunk_size: int) -> AsyncIterator[bytes]:
        """The object's bytes, streamed in chunks (never the whole object in memory)."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; removing a missing object succeeds."""
        ...


class FileTasks(Protocol):
    """Background work the API hands over (the `files` queue)."""

    async def process(self, file_id: str) -> None: ...

    async def remove_object(self, file_id: str) -> None: ...
