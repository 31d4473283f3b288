"""Quota integrity: a file's status change and its quota write are two writes. A crash between
them (simulated: the first write done, the second never) leaves the usage wrong; the
reconciliation sweep (`files.reconcile_quotas`) makes it converge to what the files say."""

from __future__ import annotations

import uuid

from service.app.files.adapter.output.repository import FILE_QUOTAS
from service.app.files.domain.entity import FileStatus
from tests.service.app.files.conftest import FilesKit, post_form


def owner() -> str:
    return uuid.uuid4().hex


async def available_file(kit: FilesKit, user: str) -> str:
    grant = await kit.service.grant_upload(
        user, filename="a.txt", content_type="text/plain", size=5
    )
    await post_form(grant.upload.url, dict(grant.upload.fields), b"hello")
    await kit.service.complete(user, grant.file.id)
    return grant.file.id


async def test_a_crash_after_completing_before_the_commit_converges(kit: FilesKit) -> None:
    user = owner()
    await available_file(kit, user)  # one file counted: (1, 5)
    grant = await kit.service.grant_upload(
        user, filename="b.txt", content_type="text/plain", size=7
    )
    # `complete`'s first write (pending -> available), then the crash: its hold is never
    # committed, so when its deadline passes the hold is pruned and the file stops counting.
    await kit.repository.transition(
        grant.file.id,
        from_statuses=[FileStatus.PENDING],
        to=FileStatus.AVAILABLE,
        at=kit.clock.now(),
    )
    kit.clock.move_past(grant.file.upload_expires_at)
    assert await kit.quota_usage(user) == (1, 5)  # wrong: two available files, 12 bytes

    assert await kit.processing.reconcile_quotas() >= 1
    assert await kit.quota_usage(user) == (2, 12)
    document = await kit.database[FILE_QUOTAS].find_one({"_id": user})
    assert document is not None
    assert document["holds"] == []
    await kit.processing.reconcile_quotas()  # a rerun changes nothing
    assert await kit.quota_usage(user) == (2, 12)


async def test_a_crash_after_deleting_before_the_release_converges(kit: FilesKit) -> None:
    user = owner()
    kept, deleted = await available_file(kit, user), await available_file(kit, user)
    # `delete`'s first write (available -> deleted), then the crash: the usage is never released.
    await kit.repository.transition(
        deleted,
        from_statuses=[FileStatus.AVAILABLE],
        to=FileStatus.DELETED,
        at=kit.clock.now(),
    )
    assert await kit.quota_usage(user) == (2, 10)  # wrong: one file is left
    await kit.processing.reconcile_quotas()
    assert await kit.quota_usage(user) == (1, 5)
    assert (await kit.repository.get(kept)) is not None


async def test_reconciling_keeps_a_live_hold_and_a_hold_whose_file_is_not_recorded_yet(
    kit: FilesKit,
) -> None:
    user = owner()
    grant = await kit.service.grant_upload(
        user, filename="c.txt", content_type="text/plain", size=3
    )
    # A reservation a concurrent request made an instant before inserting its file record.
    await kit.quota.reserve(
        user,
        file_id="not-recorded-yet",
        size=4,
        until=grant.file.upload_expires_at,
        max_count=10,
        max_bytes=100,
    )
    before = await kit.quota_usage(user)
    await kit.processing.reconcile_quotas()
    assert await kit.quota_usage(user) == before == (2, 7)
