"""MongoDB (DocumentDB) storage of file metadata and per-owner quota usage.

Every change is one single-document atomic write: a file's status moves by one conditional
`find_one_and_update`, and an owner's usage by one guarded update of its quota document.
Reads that decide a write or answer right after one go to the primary; only the owner's
listing and the sweep's candidate scan may read a lagging replica (docs/data-model.md).
"""

from __future__ import annotations

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
from service.app.files.domain.ports import QuotaVerdict
from service.core.clock import Clock
from service.core.db.database import Database, Document, on_primary
from service.core.db.repository import MongoRepository
from service.core.db.versioned import versioned_update
from service.core.pagination import Cursor, Page

FILES = "files"
FILE_QUOTAS = "file_quotas"

# The TTL monitor removes an abandoned upload's record this long after its deadline. Reads ignore
# the record from the deadline on; the grace is the time the sweep has to remove an object that
# was uploaded but never completed (which needs the record's key). A constant, not a setting: an
# index is matched by name, so a new value needs a new index name.
ABANDONED_UPLOAD_GRACE_SECONDS = 24 * 3600

# Served access patterns (docs/data-model.md, "files"):
FILE_INDEXES: Sequence[IndexModel] = (
    # GET /files: the owner's files, newest first, keyset on (created_at, _id).
    IndexModel(
        [("owner_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
        name="owner_created",
    ),
    # Only pending files carry `expires_at`: the TTL index of abandoned uploads, and the sweep's.
    IndexModel(
        [("expires_at", ASCENDING)],
        name="expires_at_ttl",
        expireAfterSeconds=ABANDONED_UPLOAD_GRACE_SECONDS,
    ),
)
# Quota documents are read and written by `_id` (the owner) only.
FILE_QUOTA_INDEXES: Sequence[IndexModel] = ()
FILES_INDEX_PLAN: dict[str, Sequence[IndexModel]] = {
    FILES: FILE_INDEXES,
    FILE_QUOTAS: FILE_QUOTA_INDEXES,
}


_VISIBLE = [status.value for status in VISIBLE_STATUSES]


def _live(now: datetime) -> Document:
    """Not an expired pending upload, whether or not the TTL monitor has removed it yet (it runs
    about once a minute on DocumentDB and MongoDB, and not at all on some local servers)."""
    return {"expires_at": {"$not": {"$lte": now}}}


class MongoFileRepository(MongoRepository[StoredFile]):
    collection_name = FILES

    def to_document(self, file: StoredFile) -> Document:
        document: Document = {
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
        if file.status is FileStatus.PENDING:
            document["expires_at"] = file.upload_expires_at
        return document

    def from_document(self, document: Document) -> StoredFile:
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

    async def add(self, file: StoredFile) -> None:
        await self.insert(file)

    async def get(self, file_id: str) -> StoredFile | None:
        # Tasks read the file the request that enqueued them has just written.
        return await self.find_one({"_id": file_id, **_live(self._clock.now())})

    async def get_owned(self, owner_id: str, file_id: str) -> StoredFile | None:
        # Decides complete and delete, and answers right after them.
        return await self.find_one(
            {
                "_id": file_id,
                "owner_id": owner_id,
                "status": {"$in": _VISIBLE},
                **_live(self._clock.now()),
            }
        )

    async def _write(
        self, where: Document, changes: Document, *, unset: Sequence[str] = ()
    ) -> StoredFile | None:
        """Apply `changes` to the file matching `where`; the state before it, or None."""
        before = await self._primary.find_one_and_update(
            where, versioned_update(changes, unset=unset), return_document=ReturnDocument.BEFORE
        )
        return self.from_document(before) if before is not None else None

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
        where = {"_id": file_id, "status": {"$in": [s.value for s in from_statuses]}, **_live(at)}
        # Leaving `pending` takes the record out of the TTL index.
        unset = ["expires_at"] if to is not FileStatus.PENDING else []
        return await self._write(where, {**changes, "updated_at": at}, unset=unset)

    async def record_digest(self, file_id: str, *, sha256: str, at: datetime) -> bool:
        before = await self._write(
            {"_id": file_id, "status": FileStatus.AVAILABLE.value, "sha256": None},
            {"sha256": sha256, "processed_at": at, "updated_at": at},
        )
        return before is not None

    async def list_owned(
        self, owner_id: str, *, limit: int, after: Cursor | None
    ) -> Page[StoredFile]:
        query: Document = {
            "owner_id": owner_id,
            "status": {"$in": _VISIBLE},
            **_live(self._clock.now()),
        }
        # May lag: a file completed a moment ago can still be listed as pending.
        return await self.find_page(query, limit=limit, after=after)

    async def abandoned(self, *, now: datetime, limit: int) -> list[StoredFile]:
        # May lag: whatever the sweep does with a candidate is decided on the primary.
        cursor = (
            self._lagging.find({"expires_at": {"$lte": now}})
            .sort([("expires_at", ASCENDING)])
            .limit(limit)
        )
        return [self.from_document(document) async for document in cursor]

    async def forget_abandoned(self, file_id: str, *, now: datetime) -> bool:
        result = await self._primary.delete_one(
            {"_id": file_id, "status": FileStatus.PENDING.value, "expires_at": {"$lte": now}}
        )
        return result.deleted_count == 1


class MongoFileQuota:
    """One document per owner: `{_id: owner, count, bytes, holds: [{file_id, size, until}]}`.

    `count` and `bytes` include every hold. A reservation is one guarded update: it matches
    only while one more file of its size fits, and pushes its hold in the same atomic write,
    so 50 concurrent reservations against room for 5 grant exactly 5. A hold past its `until`
    no longer counts: the next reservation that needs the room finds it expired and prunes it,
    so an abandoned upload stops counting at its deadline with nothing run then.
    """

    _ATTEMPTS = 8

    def __init__(self, database: Database, clock: Clock) -> None:
        self._quotas = on_primary(database[FILE_QUOTAS])
        self._clock = clock

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
        if size > max_bytes:
            return QuotaVerdict.BYTES_EXCEEDED
        fits = {
            "_id": owner_id,
            "count": {"$lte": max_count - 1},
            "bytes": {"$lte": max_bytes - size},
        }
        hold = {
            "$inc": {"count": 1, "bytes": size},
            "$push": {"holds": {"file_id": file_id, "size": size, "until": until}},
        }
        for _ in range(self._ATTEMPTS):
            try:
                # The first upload of an owner creates the document (the guard's `_id` and the
                # `$inc`/`$push` make it); a document that exists but has no room is a
                # duplicate `_id` to the upsert.
                await self._quotas.update_one(fits, hold, upsert=True)
                return QuotaVerdict.GRANTED
            except DuplicateKeyError:
                pass
            document = await self._quotas.find_one({"_id": owner_id})
            if document is None:  # lost a race to create it: try again
                continue
            now = self._clock.now()
            expired = [h for h in document.get("holds", []) if h["until"] <= now]
            if expired:
                await self._prune(owner_id, expired)
                continue
            count, used = int(document["count"]), int(document["bytes"])
            if count + 1 > max_count:
                return QuotaVerdict.COUNT_EXCEEDED
            if used + size > max_bytes:
                return QuotaVerdict.BYTES_EXCEEDED
            # Room was made between the refusal and the read: try again.
        raise RuntimeError(f"quota of {owner_id}: no decision in {self._ATTEMPTS} attempts")

    async def _prune(self, owner_id: str, holds: list[Document]) -> None:
        """Drop expired holds and their usage, in one write that only matches while every one of
        them is still there (a concurrent prune or release of any of them makes it a no-op)."""
        ids = [h["file_id"] for h in holds]
        await self._quotas.update_one(
            {"_id": owner_id, "holds.file_id": {"$all": ids}},
            {
                "$pull": {"holds": {"file_id": {"$in": ids}}},
                "$inc": {"count": -len(holds), "bytes": -sum(int(h["size"]) for h in holds)},
            },
        )

    async def commit(self, owner_id: str, *, file_id: str, size: int) -> None:
        result = await self._quotas.update_one(
            {"_id": owner_id, "holds.file_id": file_id}, {"$pull": {"holds": {"file_id": file_id}}}
        )
        if result.modified_count == 0:
            # The hold expired and was pruned between the file's completion and now: the file
            # counts again (possibly past the limit, by this one file: it was within it when held).
            await self._quotas.update_one(
                {"_id": owner_id}, {"$inc": {"count": 1, "bytes": size}}, upsert=True
            )

    async def release_hold(self, owner_id: str, *, file_id: str, size: int) -> None:
        # Matches only while the hold is there: pruned or released once, never twice.
        await self._quotas.update_one(
            {"_id": owner_id, "holds.file_id": file_id},
            {"$pull": {"holds": {"file_id": file_id}}, "$inc": {"count": -1, "bytes": -size}},
        )

    async def release(self, owner_id: str, *, size: int) -> None:
        await self._quotas.update_one({"_id": owner_id}, {"$inc": {"count": -1, "bytes": -size}})
