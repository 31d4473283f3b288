"""Files fixtures: the real moto S3 server and database of the local stack, over real HTTP."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from service.app.files.adapter.output.repository import (
    FILE_QUOTAS,
    MongoFileQuota,
    MongoFileRepository,
)
from service.app.files.adapter.output.storage import S3ObjectStorage, build_s3_client
from service.app.files.application.file_service import FileService
from service.app.files.application.policy import FilePolicy
from service.app.files.application.processing import FileProcessing
from service.core.clock import SystemClock
from service.core.config import Settings
from service.core.container import CoreContainer
from service.core.db.database import Database

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
PDF = b"%PDF-1.7\n" + b"1 0 obj << /Type /Catalog >> endobj\n" * 4 + b"%%EOF\n"


@pytest.fixture(scope="session", autouse=True)
def _moto_credentials(stack_env: dict[str, str]) -> None:
    # moto accepts any credentials; boto3 only needs some to sign with.
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        os.environ.setdefault(name, value)


@dataclass
class QueuedTasks:
    """The FileTasks port, recording what the API enqueues, so a test can run it in order.

    Stands in for the broker where no worker runs; the worker test uses the real queue.
    """

    sent: list[tuple[str, str]] = field(default_factory=list)

    async def process(self, file_id: str) -> None:
        self.sent.append(("process", file_id))

    async def remove_object(self, file_id: str) -> None:
        self.sent.append(("remove_object", file_id))

    async def run_all(self, processing: FileProcessing) -> list[tuple[str, str]]:
        ran, self.sent = self.sent, []
        for name, file_id in ran:
            await getattr(processing, name)(file_id)
        return ran


@pytest.fixture(scope="session")
async def database(app: FastAPI) -> Database:
    database: Database = await app.state.container.resolve(CoreContainer.database)
    return database


@pytest.fixture(scope="session")
def storage(settings: Settings) -> S3ObjectStorage:
    assert settings.s3_endpoint_url, "the local stack's moto endpoint is required"
    return S3ObjectStorage(build_s3_client(settings), bucket=settings.s3_bucket)


def make_policy(**overrides: object) -> FilePolicy:
    values: dict[str, object] = {
        "allowed_content_types": frozenset({"image/png", "application/pdf", "text/plain"}),
        "max_size_bytes": 1024 * 1024,
        "quota_max_count": 50,
        "quota_max_bytes": 10 * 1024 * 1024,
        "presign_expiry_seconds": 60,
        "download_url_expiry_seconds": 30,
        "pending_expiry_seconds": 120,
    }
    values.update(overrides)
    return FilePolicy(**values)  # type: ignore[arg-type]


class MovableClock:
    """The system's time plus an offset a test moves forward: past a deadline without waiting."""

    def __init__(self) -> None:
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return SystemClock().now() + self._offset

    def move_past(self, moment: datetime) -> None:
        self._offset += max(timedelta(0), moment - self.now()) + timedelta(milliseconds=1)


@dataclass
class FilesKit:
    service: FileService
    processing: FileProcessing
    tasks: QueuedTasks
    repository: MongoFileRepository
    quota: MongoFileQuota
    storage: S3ObjectStorage
    database: Database
    clock: MovableClock

    async def quota_usage(self, owner_id: str) -> tuple[int, int]:
        """(files, bytes) the owner's quota document counts now: its totals less the holds past
        their deadline (which count no more, pruned or not)."""
        document = await self.database[FILE_QUOTAS].find_one({"_id": owner_id})
        if document is None:
            return 0, 0
        now = self.clock.now()
        expired = [h for h in document.get("holds", []) if h["until"] <= now]
        return (
            int(document["count"]) - len(expired),
            int(document["bytes"]) - sum(int(h["size"]) for h in expired),
        )


def make_kit(database: Database, storage: S3ObjectStorage, policy: FilePolicy) -> FilesKit:
    tasks = QueuedTasks()
    clock = MovableClock()
    repository = MongoFileRepository(database, clock)
    quota = MongoFileQuota(database, clock)
    return FilesKit(
        service=FileService(
            repository=repository,
            quota=quota,
            storage=storage,
            tasks=tasks,
            policy=policy,
            clock=clock,
        ),
        processing=FileProcessing(
            repository=repository, quota=quota, storage=storage, tasks=tasks, clock=clock
        ),
        tasks=tasks,
        repository=repository,
        quota=quota,
        storage=storage,
        database=database,
        clock=clock,
    )


@pytest.fixture
def kit(database: Database, storage: S3ObjectStorage) -> FilesKit:
    return make_kit(database, storage, make_policy())


async def post_form(
    url: str, fields: dict[str, str], data: bytes, **field_overrides: str
) -> httpx.Response:
    """A real multipart POST of real bytes to a presigned POST URL (fields first, then file)."""
    form = {**fields, **field_overrides}
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(
            url, data=form, files={"file": ("upload.bin", data, form["Content-Type"])}
        )


async def fetch(url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.get(url)
