"""The files use cases against the real database and moto S3 (no worker: tasks run in order)."""

from __future__ import annotations

import asyncio
import hashlib
import uuid

import pytest

from service.app.files.adapter.output.repository import NEVER
from service.app.files.adapter.output.storage import S3ObjectStorage
from service.app.files.domain.entity import FileStatus, RejectionReason
from service.core.db.database import Database
from service.core.exceptions import (
    ConflictError,
    InvalidCursorError,
    NotFoundError,
    PayloadTooLargeError,
    UnprocessableError,
)
from tests.service.app.files.conftest import (
    PDF,
    PNG,
    FilesKit,
    fetch,
    make_kit,
    make_policy,
    post_form,
)


def owner() -> str:
    return f"user-{uuid.uuid4().hex[:12]}"


async def test_full_flow_upload_complete_process_download(kit: FilesKit) -> None:
    user = owner()
    grant = await kit.service.grant_upload(
        user, filename="scan.pdf", content_type="application/pdf", size=len(PDF)
    )
    assert grant.file.status is FileStatus.PENDING
    assert grant.file.key == f"uploads/{user}/{grant.file.id}"
    assert (await post_form(grant.upload.url, dict(grant.upload.fields), PDF)).status_code == 204

    done = await kit.service.complete(user, grant.file.id)
    assert done.status is FileStatus.AVAILABLE
    assert kit.tasks.sent == [("process", grant.file.id)]
    await kit.tasks.run_all(kit.processing)

    record, download = await kit.service.get(user, grant.file.id)
    assert record.sha256 is not None
    assert record.processed_at is not None
    assert record.sha256 == hashlib.sha256(PDF).hexdigest()
    assert download is not None
    assert (await fetch(download.url)).content == PDF


async def test_oversized_and_wrong_type_uploads_are_rejected_at_complete(
    kit: FilesKit, storage: S3ObjectStorage
) -> None:
    # moto accepts both uploads (it does not enforce the policy); `complete` must catch them.
    user = owner()
    too_big = await kit.service.grant_upload(
        user, filename="a.png", content_type="image/png", size=len(PNG)
    )
    sent = await post_form(too_big.upload.url, dict(too_big.upload.fields), PNG + b"extra")
    assert sent.status_code == 204
    wrong_type = await kit.service.grant_upload(
        user, filename="b.png", content_type="image/png", size=len(PNG)
    )
    sent = await post_form(
        wrong_type.upload.url, dict(wrong_type.upload.fields), PNG, **{"Content-Type": "text/html"}
    )
    assert sent.status_code == 204

    first = await kit.service.complete(user, too_big.file.id)
    second = await kit.service.complete(user, wrong_type.file.id)

    assert (first.status, first.rejection_reason) == (
        FileStatus.REJECTED,
        RejectionReason.SIZE_MISMATCH,
    )
    assert (second.status, second.rejection_reason) == (
        FileStatus.REJECTED,
        RejectionReason.CONTENT_TYPE_MISMATCH,
    )
    assert await storage.head(too_big.file.key) is None
    assert await storage.head(wrong_type.file.key) is None
    assert kit.tasks.sent == []  # nothing to post-process
    assert await kit.quota_usage(user) == (0, 0)  # rejected files give their quota back


async def test_png_declared_as_pdf_is_rejected_by_post_processing(
    kit: FilesKit, storage: S3ObjectStorage
) -> None:
    user = owner()
    grant = await kit.service.grant_upload(
        user, filename="fake.pdf", content_type="application/pdf", size=len(PNG)
    )
    await post_form(grant.upload.url, dict(grant.upload.fields), PNG)
    assert (await kit.service.complete(user, grant.file.id)).status is FileStatus.AVAILABLE

    assert await kit.processing.process(grant.file.id) == "rejected"
    record, download = await kit.service.get(user, grant.file.id)
    assert (record.status, record.rejection_reason) == (
        FileStatus.REJECTED,
        RejectionReason.CONTENT_MISMATCH,
    )
    assert download is None
    assert await storage.head(grant.file.key) is None
    assert await kit.processing.process(grant.file.id) == "skipped"  # redelivery is harmless


async def test_complete_before_any_upload_is_409_and_stays_pending(kit: FilesKit) -> None:
    user = owner()
    grant = await kit.service.grant_upload(
        user, filename="a.txt", content_type="text/plain", size=5
    )
    with pytest.raises(ConflictError) as error:
        await kit.service.complete(user, grant.file.id)
    assert error.value.code == "upload_not_found"
    assert (await kit.service.get(user, grant.file.id))[0].status is FileStatus.PENDING


async def test_concurrent_completes_have_exactly_one_winner(kit: FilesKit) -> None:
    user = owner()
    grant = await kit.service.grant_upload(
        user, filename="a.txt", content_type="text/plain", size=5
    )
    await post_form(grant.upload.url, dict(grant.upload.fields), b"hello")

    results = await asyncio.gather(
        *(kit.service.complete(user, grant.file.id) for _ in range(10)), return_exceptions=True
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, ConflictError)]
    assert len(winners) == 1
    assert len(losers) == 9
    assert {e.code for e in losers} == {"file_not_pending"}
    assert kit.tasks.sent == [("process", grant.file.id)]  # post-processing enqueued once


async def test_rules_name_what_was_broken(kit: FilesKit) -> None:
    user = owner()
    with pytest.raises(UnprocessableError) as error:
        await kit.service.grant_upload(user, filename="a.exe", content_type="app/x-exe", size=1)
    assert (error.value.code, error.value.extra["rule"]) == (
        "content_type_not_allowed",
        "allowed_content_types",
    )
    with pytest.raises(UnprocessableError) as error:
        await kit.service.grant_upload(
            user, filename="a.png", content_type="image/png", size=1024 * 1024 + 1
        )
    assert (error.value.code, error.value.extra["rule"]) == ("file_too_large", "max_size_bytes")
    with pytest.raises(UnprocessableError) as error:
        await kit.service.grant_upload(user, filename="../..", content_type="image/png", size=1)
    assert error.value.code == "invalid_filename"


async def test_50_concurrent_reservations_are_exact(
    database: Database, storage: S3ObjectStorage
) -> None:
    kit = make_kit(database, storage, make_policy(quota_max_count=5, quota_max_bytes=1000))
    user = owner()
    results = await asyncio.gather(
        *(
            kit.service.grant_upload(user, filename="a.txt", content_type="text/plain", size=10)
            for _ in range(50)
        ),
        return_exceptions=True,
    )
    granted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, ConflictError)]
    assert len(granted) == 5
    assert len(refused) == 45
    assert {e.code for e in refused} == {"file_quota_count_exceeded"}
    assert await kit.quota_usage(user) == (5, 50)

    # Bytes: 50 concurrent 60-byte uploads against 1000 bytes: exactly 16 fit.
    other = owner()
    bytes_kit = make_kit(database, storage, make_policy(quota_max_count=50, quota_max_bytes=1000))
    results = await asyncio.gather(
        *(
            bytes_kit.service.grant_upload(
                other, filename="a.txt", content_type="text/plain", size=60
            )
            for _ in range(50)
        ),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 16
    assert {e.code for e in results if isinstance(e, PayloadTooLargeError)} == {
        "file_quota_bytes_exceeded"
    }
    assert await kit.quota_usage(other) == (16, 960)

    # Deleting gives the quota back, once however many deletes race.
    await asyncio.gather(
        *(kit.service.delete(user, granted[0].file.id) for _ in range(5)), return_exceptions=True
    )
    assert await kit.quota_usage(user) == (4, 40)


async def test_quota_bytes_is_413(database: Database, storage: S3ObjectStorage) -> None:
    kit = make_kit(database, storage, make_policy(quota_max_bytes=1000))
    other = owner()
    await kit.service.grant_upload(other, filename="a.txt", content_type="text/plain", size=600)
    with pytest.raises(PayloadTooLargeError) as error:
        await kit.service.grant_upload(other, filename="b.txt", content_type="text/plain", size=401)
    assert error.value.code == "file_quota_bytes_exceeded"


async def test_another_users_file_is_not_found_for_every_operation(kit: FilesKit) -> None:
    alice, mallory = owner(), owner()
    grant = await kit.service.grant_upload(
        alice, filename="a.txt", content_type="text/plain", size=5
    )
    await post_form(grant.upload.url, dict(grant.upload.fields), b"hello")
    for attempt in (
        kit.service.get(mallory, grant.file.id),
        kit.service.complete(mallory, grant.file.id),
        kit.service.delete(mallory, grant.file.id),
    ):
        with pytest.raises(NotFoundError) as error:
            await attempt
        assert error.value.code == "file_not_found"
    assert (await kit.service.list(mallory, limit=10, cursor=None)).items == []
    assert (await kit.service.complete(alice, grant.file.id)).status is FileStatus.AVAILABLE


async def test_delete_hides_at_once_and_the_task_removes_the_object(
    kit: FilesKit, storage: S3ObjectStorage
) -> None:
    user = owner()
    grant = await kit.service.grant_upload(
        user, filename="a.txt", content_type="text/plain", size=5
    )
    await post_form(grant.upload.url, dict(grant.upload.fields), b"hello")
    await kit.service.complete(user, grant.file.id)
    kit.tasks.sent.clear()

    await kit.service.delete(user, grant.file.id)
    with pytest.raises(NotFoundError):
        await kit.service.get(user, grant.file.id)
    assert await storage.head(grant.file.key) is not None  # not yet: the task does it
    assert kit.tasks.sent == [("remove_object", grant.file.id)]

    await kit.tasks.run_all(kit.processing)
    assert await storage.head(grant.file.key) is None
    with pytest.raises(NotFoundError):
        await kit.service.delete(user, grant.file.id)


async def test_listing_is_keyset_paginated_newest_first(kit: FilesKit) -> None:
    user = owner()
    ids = []
    for n in range(7):
        grant = await kit.service.grant_upload(
            user, filename=f"{n}.txt", content_type="text/plain", size=1
        )
        ids.append(grant.file.id)
    seen: list[str] = []
    cursor = None
    while True:
        page = await kit.service.list(user, limit=3, cursor=cursor)
        seen.extend(f.id for f in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    records = [await kit.repository.get(i) for i in ids]
    expected = sorted(
        (r for r in records if r is not None), key=lambda f: (f.created_at, f.id), reverse=True
    )
    assert seen == [f.id for f in expected]
    assert len(seen) == 7
    with pytest.raises(InvalidCursorError):
        await kit.service.list(user, limit=3, cursor="not-a-cursor")


def short_deadline_kit(database: Database, storage: S3ObjectStorage, **policy: object) -> FilesKit:
    """Uploads whose deadline is one second after they are granted (its clock moves past it)."""
    return make_kit(
        database, storage, make_policy(presign_expiry_seconds=1, pending_expiry_seconds=1, **policy)
    )


async def test_an_abandoned_upload_is_never_served_or_counted_and_the_sweep_clears_it(
    database: Database, storage: S3ObjectStorage
) -> None:
    """No TTL monitor runs here (nor the sweep, until called): reads alone must hide it."""
    kit = short_deadline_kit(database, storage, quota_max_count=2)
    user = owner()
    uploaded = await kit.service.grant_upload(
        user, filename="a.txt", content_type="text/plain", size=5
    )
    await post_form(uploaded.upload.url, dict(uploaded.upload.fields), b"hello")
    never = await kit.service.grant_upload(
        user, filename="b.txt", content_type="text/plain", size=7
    )
    assert await kit.quota_usage(user) == (2, 12)
    with pytest.raises(ConflictError):  # the quota is full while both are pending
        await kit.service.grant_upload(user, filename="c.txt", content_type="text/plain", size=1)
    kit.clock.move_past(never.file.upload_expires_at)

    # Past the deadline, before any sweep: not served, not listed, not counted, not completable.
    for grant in (uploaded, never):
        with pytest.raises(NotFoundError):
            await kit.service.get(user, grant.file.id)
        assert await kit.repository.get(grant.file.id) is None
        with pytest.raises(NotFoundError):
            await kit.service.complete(user, grant.file.id)
    assert (await kit.service.list(user, limit=10, cursor=None)).items == []
    assert await kit.quota_usage(user) == (0, 0)
    third = await kit.service.grant_upload(
        user, filename="c.txt", content_type="text/plain", size=1
    )
    assert await kit.quota_usage(user) == (1, 1)  # the expired holds were pruned, not counted

    # The sweep removes what they left behind: the uploaded object and both records.
    assert await storage.head(uploaded.file.key) is not None
    assert await kit.processing.clear_abandoned_uploads() >= 2
    assert await storage.head(uploaded.file.key) is None
    for grant in (uploaded, never):
        assert await database["files"].find_one({"_id": grant.file.id}) is None
    assert await kit.quota_usage(user) == (1, 1)
    assert (await kit.service.get(user, third.file.id))[0].status is FileStatus.PENDING


async def test_completing_keeps_the_file_counted_after_the_upload_deadline(
    database: Database, storage: S3ObjectStorage
) -> None:
    kit = short_deadline_kit(database, storage, quota_max_count=1)
    user = owner()
    grant = await kit.service.grant_upload(
        user, filename="a.txt", content_type="text/plain", size=5
    )
    await post_form(grant.upload.url, dict(grant.upload.fields), b"hello")
    assert (await kit.service.complete(user, grant.file.id)).status is FileStatus.AVAILABLE
    kit.clock.move_past(grant.file.upload_expires_at)
    assert await kit.quota_usage(user) == (1, 5)
    with pytest.raises(ConflictError):
        await kit.service.grant_upload(user, filename="b.txt", content_type="text/plain", size=1)
    await kit.processing.clear_abandoned_uploads()
    assert await kit.quota_usage(user) == (1, 5)
    assert (await kit.service.get(user, grant.file.id))[0].status is FileStatus.AVAILABLE


async def test_only_abandoned_uploads_can_expire(
    kit: FilesKit, database: Database, storage: S3ObjectStorage
) -> None:
    """The TTL index is on `expires_at`, which is a date in reach only while a file is pending:
    completing, rejecting or deleting sets it to NEVER."""
    info = await database["files"].index_information()
    assert info["expires_at_ttl"]["key"] == [("expires_at", 1)]
    assert info["expires_at_ttl"]["expireAfterSeconds"] == 24 * 3600
    user = owner()
    grants = [
        await kit.service.grant_upload(user, filename=f"{n}.txt", content_type="text/plain", size=5)
        for n in range(3)
    ]
    for grant in grants[:2]:
        await post_form(grant.upload.url, dict(grant.upload.fields), b"hello")
    await kit.service.complete(user, grants[0].file.id)
    await kit.service.delete(user, grants[1].file.id)

    stored = {
        document["_id"]: document.get("expires_at")
        async for document in database["files"].find({"owner_id": user})
    }
    assert stored[grants[0].file.id] == NEVER  # available
    assert stored[grants[1].file.id] == NEVER  # deleted
    assert stored[grants[2].file.id] == grants[2].file.upload_expires_at  # still pending
