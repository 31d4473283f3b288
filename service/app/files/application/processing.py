"""Background work on files (run by Celery tasks on the `files` queue, testable directly).

Every function takes an id, reloads the record and is idempotent: a redelivered task does
no harm.
"""

from __future__ import annotations

import hashlib
import logging

from service.app.files.domain.content import SNIFF_BYTES, matches_content_type
from service.app.files.domain.entity import (
    OBJECT_REMOVED_STATUSES,
    FileStatus,
    RejectionReason,
    StoredFile,
)
from service.app.files.domain.ports import FileQuota, FileRepository, FileTasks, ObjectStorage
from service.core.clock import Clock

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1024 * 1024


async def remove_now_or_later(storage: ObjectStorage, tasks: FileTasks, record: StoredFile) -> None:
    """Remove a rejected file's object; if storage fails, a task retries it.

    The status already says "no object": a failed delete must not be forgotten.
    """
    try:
        await storage.delete(record.key)
    except Exception:
        logger.warning("object removal deferred to a task", extra={"file_id": record.id})
        await tasks.remove_object(record.id)


class FileProcessing:
    def __init__(
        self,
        *,
        repository: FileRepository,
        quota: FileQuota,
        storage: ObjectStorage,
        tasks: FileTasks,
        clock: Clock,
    ) -> None:
        self._files = repository
        self._quota = quota
        self._storage = storage
        self._tasks = tasks
        self._clock = clock

    async def _remove_now_or_later(self, record: StoredFile) -> None:
        await remove_now_or_later(self._storage, self._tasks, record)

    async def process(self, file_id: str) -> str:
        """Stream the object: sha256 and size, leading bytes against the declared type.

        Returns what happened: "processed", "rejected" or "skipped".
        """
        record = await self._files.get(file_id)
        if record is None or record.status is not FileStatus.AVAILABLE or record.sha256:
            return "skipped"
        digest = hashlib.sha256()
        size = 0
        head = b""
        async for chunk in self._storage.read(record.key, chunk_size=CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
            if len(head) < SNIFF_BYTES:
                head += chunk[: SNIFF_BYTES - len(head)]
        reason = None
        if size != record.size:
            reason = RejectionReason.SIZE_MISMATCH
        elif not matches_content_type(record.content_type, head):
            reason = RejectionReason.CONTENT_MISMATCH
        if reason is None:
            stored = await self._files.record_digest(
                file_id, sha256=digest.hexdigest(), at=self._clock.now()
            )
            return "processed" if stored else "skipped"
        before = await self._files.transition(
            file_id,
            from_statuses=[FileStatus.AVAILABLE],
            to=FileStatus.REJECTED,
            at=self._clock.now(),
            rejection_reason=reason,
        )
        if before is None:  # deleted (or rejected) meanwhile: its own path removes the object
            return "skipped"
        logger.info("file rejected", extra={"file_id": file_id, "reason": reason.value})
        await self._quota.release(before.owner_id, size=before.size)
        await self._remove_now_or_later(record)
        return "rejected"

    async def remove_object(self, file_id: str) -> bool:
        """Delete the object of a deleted or rejected file; True when one was due."""
        record = await self._files.get(file_id)
        if record is None or record.status not in OBJECT_REMOVED_STATUSES:
            return False  # a live file's object is never removed here
        await self._storage.delete(record.key)
        return True

    async def clear_abandoned_uploads(self, *, batch: int = 100) -> int:
        """Remove what pending uploads left behind when their deadline passed uncompleted.

        Nothing here decides what is served or counted: from its deadline on, an abandoned
        upload is never read, and its quota hold no longer counts. This is the part of expiry
        that must run code: an object may have been uploaded and never completed, and only the
        record knows its key. The object goes first, then its hold, then the record (the TTL
        index removes records this sweep never reached, a day after their deadline).
        """
        now = self._clock.now()
        cleared = 0
        while True:
            due = await self._files.abandoned(now=now, limit=batch)
            before = cleared
            for record in due:
                try:
                    await self._storage.delete(record.key)
                except Exception:
                    # The record stays, so the next sweep tries again.
                    logger.warning("abandoned upload kept", extra={"file_id": record.id})
                    continue
                await self._quota.release_hold(record.owner_id, file_id=record.id, size=record.size)
                if await self._files.forget_abandoned(record.id, now=now):
                    cleared += 1
            if len(due) < batch or cleared == before:  # done, or storage keeps failing
                return cleared

    async def reconcile_quotas(self, *, batch: int = 100) -> int:
        """Every owner's usage set from its files (periodic, beat): the file's status change
        and the quota's write are two writes, and this is what makes a crash between them
        converge. The number of owners whose usage was corrected."""
        corrected, after = 0, None
        while owners := await self._quota.owners(after=after, limit=batch):
            for owner_id in owners:
                corrected += await self._quota.reconcile(owner_id)
            after = owners[-1]
        if corrected:
            logger.warning("file quotas corrected", extra={"owners": corrected})
        return corrected
