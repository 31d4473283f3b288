"""A stored file: its metadata, its lifecycle, and who may see it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class FileStatus(StrEnum):
    """pending -> available | rejected | deleted; available -> rejected | deleted.

    A pending file not completed by its `upload_expires_at` is gone: never served, its quota
    hold no longer counted, its record and any uploaded object removed later.
    """

    PENDING = "pending"  # presigned POST handed out, upload not confirmed yet
    AVAILABLE = "available"  # confirmed by `complete`; post-processing adds sha256
    REJECTED = "rejected"  # size, type or content did not match; object removed
    DELETED = "deleted"  # deleted by its owner; object removed by a task

    @property
    def holds_quota(self) -> bool:
        """Files in these states count against the owner's quota."""
        return self in (FileStatus.PENDING, FileStatus.AVAILABLE)


class RejectionReason(StrEnum):
    SIZE_MISMATCH = "size_mismatch"
    CONTENT_TYPE_MISMATCH = "content_type_mismatch"
    ENCRYPTION_MISMATCH = "encryption_mismatch"
    CONTENT_MISMATCH = "content_mismatch"  # leading bytes do not match the declared type


# Statuses in which the file is listed and readable by its owner.
VISIBLE_STATUSES: tuple[FileStatus, ...] = (
    FileStatus.PENDING,
    FileStatus.AVAILABLE,
    FileStatus.REJECTED,
)
# Once here the object must not exist in storage (any copy is removed).
OBJECT_REMOVED_STATUSES: tuple[FileStatus, ...] = (
    FileStatus.REJECTED,
    FileStatus.DELETED,
)


def new_file_id() -> str:
    return uuid.uuid4().hex


def object_key(owner_id: str, file_id: str) -> str:
    """Where the file's bytes live: one prefix per owner, under the service's `uploads/`."""
    return f"uploads/{owner_id}/{file_id}"


@dataclass(frozen=True, slots=True)
class StoredFile:
    id: str
    owner_id: str
    filename: str
    content_type: str
    size: int  # declared by the client, verified at complete and by post-processing
    key: str
    status: FileStatus
    version: int
    created_at: datetime
    updated_at: datetime
    upload_expires_at: datetime  # a pending file is gone from this instant on
    completed_at: datetime | None = None
    rejection_reason: RejectionReason | None = None
    sha256: str | None = None  # set by post-processing
    processed_at: datetime | None = None
    deleted_at: datetime | None = None
