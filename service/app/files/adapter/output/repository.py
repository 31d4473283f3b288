"""MongoDB (FerretDB / DocumentDB) storage of file metadata and per-owner quota usage."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from service.app.files.domain.entity import (
    VISIBLE_STATUSES,
    FileStatus,
    RejectionReason,
    StoredFile,
)
from service.app.files.domain.ports import PageCursor, QuotaVerdict
from service.core.db.claimed_writes import ClaimedWrites
from service.core.db.database import Database, Document
from service.core.db.keyset import newest_first_page
from service.core.db.mixins.timestamp import TimestampMixin

FILES = "files"
FILE_WRITES = "file_writes"
FILE_QUOTA_LEDGER = "file_quota_ledger"

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
# The quota check reads an owner's latest ledger entry.
QUOTA_LEDGER_INDEXES: Sequence[IndexModel] = (
    IndexModel([("owner_id", ASCENDING), ("seq", DESCENDING)], name="owner_seq"),
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
    """File documents, changed only through claimed versions (`service/core/db/claimed_writes`,
    claims in `file_writes`), so of concurrent writers on one version exactly one wins."""

    def __init__(self, database: Database) -> None:
        self._files = database[FILES]
        self._writes = ClaimedWrites(self._files, database[FILE_WRITES], owner_field="file_id")

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

    async def _write(
        self, file_id: str, allowed: Callable[[StoredFile], bool], changes: Document
    ) -> StoredFile | None:
        """Apply `changes` if `allowed(current)`; the state before it, or None if refused."""
        before = await self._writes.write(
            file_id, changes, lambda document: allowed(_from_document(document))
        )
        return _from_document(before) if before is not None else None

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
        allowed = frozenset(from_statuses)
        return await self._write(
            file_id, lambda file: file.status in allowed, self.stamp_updated(changes, at)
        )

    async def record_digest(self, file_id: str, *, sha256: str, at: datetime) -> bool:
        before = await self._write(
            file_id,
            lambda file: file.status is FileStatus.AVAILABLE and file.sha256 is None,
            self.stamp_updated({"sha256": sha256, "processed_at": at}, at),
        )
        return before is not None

    async def list_owned(
        self, owner_id: str, *, limit: int, after: PageCursor | None
    ) -> list[StoredFile]:
        query: Document = {"owner_id": owner_id, "status": {"$in": _VISIBLE}}
        position = (after.created_at, after.id) if after is not None else None
        documents = await newest_first_page(self._files, query, limit=limit, after=position)
        return [_from_document(document) for document in documents]

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
    """Per-owner usage as an append-only ledger: each entry holds the totals after a change.

    Reserving reads the owner's latest entry and inserts the next one (`{owner}:{seq + 1}`);
    the unique `_id` insert is the one atomic step, so concurrent reservations cannot both
    build on the same totals (the loser re-reads and decides again) and no counter update can
    be lost, even on FerretDB whose `$inc` is read-then-write.
    """

    _ATTEMPTS = 200

    def __init__(self, database: Database) -> None:
        self._ledger = database[FILE_QUOTA_LEDGER]

    async def _latest(self, owner_id: str) -> tuple[int, int, int]:
        entry = await self._ledger.find_one({"owner_id": owner_id}, sort=[("seq", DESCENDING)])
        if entry is None:
            return 0, 0, 0
        return int(entry["seq"]), int(entry["count"]), int(entry["bytes"])

    async def _append(
        self, owner_id: str, decide: Callable[[int, int], QuotaVerdict], count: int, size: int
    ) -> QuotaVerdict:
        for attempt in range(self._ATTEMPTS):
            seq, used_count, used_bytes = await self._latest(owner_id)
            verdict = decide(used_count, used_bytes)
            if verdict is not QuotaVerdict.GRANTED:
                return verdict
            try:
                await self._ledger.insert_one(
                    {
                        "_id": f"{owner_id}:{seq + 1}",
                        "owner_id": owner_id,
                        "seq": seq + 1,
                        "count": used_count + count,
                        "bytes": used_bytes + size,
                    }
                )
            except DuplicateKeyError:
                await asyncio.sleep(random.uniform(0, 0.002 * min(attempt + 1, 10)))  # noqa: S311
                continue
            return QuotaVerdict.GRANTED
        raise RuntimeError(f"quota of {owner_id}: no update won in {self._ATTEMPTS} attempts")

    async def reserve(
        self, owner_id: str, *, size: int, max_count: int, max_bytes: int
    ) -> QuotaVerdict:
        def decide(used_count: int, used_bytes: int) -> QuotaVerdict:
            if used_count + 1 > max_count:
                return QuotaVerdict.COUNT_EXCEEDED
            if used_bytes + size > max_bytes:
                return QuotaVerdict.BYTES_EXCEEDED
            return QuotaVerdict.GRANTED

        if size > max_bytes:
            return QuotaVerdict.BYTES_EXCEEDED
        return await self._append(owner_id, decide, 1, size)

    async def release(self, owner_id: str, *, size: int) -> None:
        await self._append(owner_id, lambda _count, _bytes: QuotaVerdict.GRANTED, -1, -size)

    async def usage(self, owner_id: str) -> tuple[int, int]:
        _, count, size = await self._latest(owner_id)
        return count, size
