"""The files tasks in a real Celery worker process (consuming every declared queue), end to end.

The API (a private app on this module's own database and Redis prefix) enqueues through the
core Celery app; the worker post-processes and removes objects in moto's S3.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest

from service.app.files.adapter.output.storage import S3ObjectStorage
from service.core.config import Settings
from tests.conftest import private_app
from tests.service.app.files.adapter.input.api.v1.conftest import login_new_user
from tests.service.app.files.conftest import PDF, PNG, post_form
from tests.service.core.celery_task.conftest import module_settings, producer
from tests.service.core.celery_task.processes import celery_env, celery_worker

pytestmark = [pytest.mark.integration, pytest.mark.slow]
T = TypeVar("T")


@pytest.fixture(scope="module")
def files_settings(stack_env: dict[str, str], run_id: str) -> Settings:
    return module_settings(stack_env, run_id, "files_worker")


@pytest.fixture(scope="module")
def worker(files_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    env = celery_env(
        files_settings,
        s3_endpoint_url=files_settings.s3_endpoint_url,
        s3_bucket=files_settings.s3_bucket,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    log = tmp_path_factory.mktemp("files_worker") / "worker.log"
    with producer(files_settings), celery_worker(env, log):
        yield


async def eventually(check: Callable[[], Awaitable[T | None]], what: str) -> T:
    """Poll until `check()` gives a value (a generous deadline: this is not a timing test)."""
    for _ in range(600):
        value = await check()
        if value is not None:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_worker_post_processes_rejects_and_removes_objects(
    worker: None, files_settings: Settings, storage: S3ObjectStorage
) -> None:
    async with private_app(files_settings) as (_, http):
        me = await login_new_user(http)

        async def upload(data: bytes, content_type: str) -> tuple[str, str]:
            created = await http.post(
                "/api/v1/files",
                json={"filename": "f", "content_type": content_type, "size": len(data)},
                headers=me,
            )
            assert created.status_code == 201, created.text
            body = created.json()
            sent = await post_form(body["upload"]["url"], body["upload"]["fields"], data)
            assert sent.status_code == 204
            done = await http.post(f"/api/v1/files/{body['id']}/complete", headers=me)
            assert done.json()["status"] == "available"
            return body["id"], body["upload"]["fields"]["key"]

        def settled(file_id: str) -> Callable[[], Awaitable[dict[str, Any] | None]]:
            async def check() -> dict[str, Any] | None:
                body: dict[str, Any] = (
                    await http.get(f"/api/v1/files/{file_id}", headers=me)
                ).json()
                return body if body["sha256"] or body["status"] != "available" else None

            return check

        good_id, good_key = await upload(PDF, "application/pdf")
        fake_id, fake_key = await upload(PNG, "application/pdf")  # a PNG declared as PDF

        good = await eventually(settled(good_id), "the PDF to be post-processed")
        assert good["status"] == "available"
        assert good["sha256"] == hashlib.sha256(PDF).hexdigest()
        fake = await eventually(settled(fake_id), "the fake PDF to be post-processed")
        assert (fake["status"], fake["rejection_reason"]) == ("rejected", "content_mismatch")

        async def fake_removed() -> bool | None:
            return True if await storage.head(fake_key) is None else None

        # The status turns "rejected" first; the quota release and the removal follow it.
        await eventually(fake_removed, "the fake PDF's object to be removed")

        assert (await http.delete(f"/api/v1/files/{good_id}", headers=me)).status_code == 204

        async def removed() -> bool | None:
            return True if await storage.head(good_key) is None else None

        await eventually(removed, "the deleted file's object to be removed by the worker")
