"""MongoDB (FerretDB / DocumentDB) storage of file metadata and per-owner quota usage."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from service.app.files.domain.entity import (
    VISIBLE_STATUSES,
    FileStatus,
    RejectionReason,
    StoredFile,
)
from service.app.files.domain.ports import PageCursor, QuotaVerdict
from service.core.db.database import Database, Document
from service.core.db.mixins.timestamp import TimestampMixin

FILES = "files"
FILE_QUOTAS = "file_quotas"

# Served access patterns (docs/data-model.md, "files"):
FILE_INDEXES: Sequence[IndexModel] = (
    # GET /files: the owner's files, newest first, keyset on (created_at, _id).
    IndexModel(
        [("owner_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
        name="owner_created",
    ),
    # The expiry sweep: pending files whose upload window has passed.
    IndexModel([("status", ASCENDING), ("upload_expires_at", ASCENDING)], name="status_expiry"),
)


def _to_document(file: StoredFile) -> Document:
    return {
        "_id": file.id,
        "owner_id": file.owner_id,
        "filename": file.filename,
        "content_type": file.content_type,
        "size": file.size,
        "key": file.key,
        "status": file.status.value,
        "version": file.version,
        "created_at": file.created_at,
        "updated_at": file.updated_at,
        "upload_expires_at": file.upload_expires_at,
        "completed_at": file.completed_at,
        "rejection_reason": file.rejection_reason.value if file.rejection_reason else None,
        "sha256": file.sha256,
        "processed_at": file.processed_at,
        "deleted_at": file.deleted_at,
    }


def _from_document(document: Document) -> StoredFile:
    reason = document.get("rejection_reason")
    return StoredFile(
        id=document["_id"],
        owner_id=document["owner_id"],
        filename=document["filename"],
        content_type=document["content_type"],
        size=document["size"],
        key=document["key"],
        status=FileStatus(document["status"]),
        version=document["version"],
        created_at=document["created_at"],
        updated_at=document["updated_at"],
        upload_expires_at=document["upload_expires_at"],
        completed_at=document.get("completed_at"),
        rejection_reason=RejectionReason(reason) if reason else None,
        sha256=document.get("sha256"),
        processed_at=document.get("processed_at"),
        deleted_at=document.get("deleted_at"),
    )


_VISIBLE = [status.value for status in VISIBLE_STATUSES]


class MongoFileRepository(TimestampMixin):
    def __init__(self, database: Database) -> None:
        self._files = database[FILES]

    async def add(self, file: StoredFile) -> None:
        await self._files.insert_one(_to_document(file))

    async def get(self, file_id: str) -> StoredFile | None:
        document = await self._files.find_one({"_id": file_id})
        return _from_document(document) if document else None

    async def get_owned(self, owner_id: str, file_id: str) -> StoredFile | None:
        document = await self._files.find_one(
            {"_id": file_id, "owner_id": owner_id, "status": {"$in": _VISIBLE}}
        )
        return _from_document(document) if document else None

    async def transition(
        self,
        file_id: str,
        *,
        from_statuses: Sequence[FileStatus],
        to: FileStatus,
        at: datetime,
        rejection_reason: RejectionReason | None = None,
    ) -> StoredFile | None:
        changes: dict[str, Any] = {"status": to.value}
        if to is FileStatus.AVAILABLE:
            changes["completed_at"] = at
        if to is FileStatus.REJECTED:
            changes["rejection_reason"] = rejection_reason.value if rejection_reason else None
        if to is FileStatus.DELETED:
            changes["deleted_at"] = at
        # One document, one atomic findAndModify: the status filter decides the single winner.
        before = await self._files.find_one_and_update(
            {"_id": file_id, "status": {"$in": [status.value for status in from_statuses]}},
            {"$set": self.stamp_updated(changes, at), "$inc": {"version": 1}},
            return_document=ReturnDocument.BEFORE,
        )
        return _from_document(before) if before else None

    async def record_digest(self, file_id: str, *, sha256: str, at: datetime) -> bool:
        result = await self._files.update_one(
            {"_id": file_id, "status": FileStatus.AVAILABLE.value, "sha256": None},
            {
                "$set": self.stamp_updated({"sha256": sha256, "processed_at": at}, at),
                "$inc": {"version": 1},
            },
        )
        return result.modified_count == 1

    async def list_owned(
        self, owner_id: str, *, limit: int, after: PageCursor | None
    ) -> list[StoredFile]:
        query: Document = {"owner_id": owner_id, "status": {"$in": _VISIBLE}}
        if after is not None:
            query["$or"] = [
                {"created_at": {"$lt": after.created_at}},
                {"created_at": after.created_at, "_id": {"$lt": after.id}},
            ]
        cursor = (
            self._files.find(query)
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .limit(limit)
        )
        return [_from_document(document) async for document in cursor]

    async def pending_expired(self, *, now: datetime, limit: int) -> list[StoredFile]:
        cursor = (
            self._files.find(
                {"status": FileStatus.PENDING.value, "upload_expires_at": {"$lt": now}}
            )
            .sort([("upload_expires_at", ASCENDING)])
            .limit(limit)
        )
        return [_from_document(document) async for document in cursor]


class MongoFileQuota:
    """One usage document per owner, changed only by conditional `$inc` (no transactions).

    A reservation succeeds only while both limits hold after it; concurrent reservations
    cannot overshoot, because the filter and the increment are one atomic update.
    """

    def __init__(self, database: Database) -> None:
        self._usage = database[FILE_QUOTAS]

    async def _ensure(self, owner_id: str) -> None:
        # Created concurrently by another request: it exists, which is all this needs.
        with contextlib.suppress(DuplicateKeyError):
            await self._usage.update_one(
                {"_id": owner_id}, {"$setOnInsert": {"count": 0, "bytes": 0}}, upsert=True
            )

    async def reserve(
        self, owner_id: str, *, size: int, max_count: int, max_bytes: int
    ) -> QuotaVerdict:
        if size > max_bytes:
            return QuotaVerdict.BYTES_EXCEEDED
        await self._ensure(owner_id)
        result = await self._usage.update_one(
            {
                "_id": owner_id,
                "count": {"$lte": max_count - 1},
                "bytes": {"$lte": max_bytes - size},
            },
            {"$inc": {"count": 1, "bytes": size}},
        )
        if result.modified_count == 1:
            return QuotaVerdict.GRANTED
        usage = await self._usage.find_one({"_id": owner_id}) or {}
        if usage.get("count", 0) >= max_count:
            return QuotaVerdict.COUNT_EXCEEDED
        return QuotaVerdict.BYTES_EXCEEDED

    async def release(self, owner_id: str, *, size: int) -> None:
        await self._usage.update_one({"_id": owner_id}, {"$inc": {"count": -1, "bytes": -size}})

    async def usage(self, owner_id: str) -> tuple[int, int]:
        document = await self._usage.find_one({"_id": owner_id}) or {}
        return int(document.get("count", 0)), int(document.get("bytes", 0))
