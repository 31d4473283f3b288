"""What the files application needs from the outside: metadata store, quota, storage, tasks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from service.app.files.domain.entity import FileStatus, RejectionReason, StoredFile


@dataclass(frozen=True, slots=True)
class PageCursor:
    """Position after the last item of a page, in (created_at desc, id desc) order."""

    created_at: datetime
    id: str


class FileRepository(Protocol):
    async def add(self, file: StoredFile) -> None: ...

    async def get(self, file_id: str) -> StoredFile | None: ...

    async def get_owned(self, owner_id: str, file_id: str) -> StoredFile | None:
        """The owner's file in a visible status; None for anyone else's, or a deleted one."""
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

        The one way a status changes: of concurrent callers, exactly one wins.
        """
        ...

    async def record_digest(self, file_id: str, *, sha256: str, at: datetime) -> bool:
        """Store the checksum of an available, not yet processed file; False otherwise."""
        ...

    async def list_owned(
        self, owner_id: str, *, limit: int, after: PageCursor | None
    ) -> list[StoredFile]: ...

    async def pending_expired(self, *, now: datetime, limit: int) -> list[StoredFile]: ...


class QuotaVerdict(StrEnum):
    GRANTED = "granted"
    COUNT_EXCEEDED = "count_exceeded"
    BYTES_EXCEEDED = "bytes_exceeded"


class FileQuota(Protocol):
    """Per-owner usage (files and declared bytes) that holds `pending` and `available` files."""

    async def reserve(
        self, owner_id: str, *, size: int, max_count: int, max_bytes: int
    ) -> QuotaVerdict: ...

    async def release(self, owner_id: str, *, size: int) -> None: ...


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
