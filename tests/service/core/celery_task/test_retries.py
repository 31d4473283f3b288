"""Retries through a real worker: `send_email` against an SMTP server that the test scripts.

A 4xx answer is transient: the task is retried with backoff and then succeeds. A 5xx answer is
permanent: the task fails at once, without a retry, and the failure is recorded (result store
and the failed-task list). A second delivery of the same mail id sends nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from celery.result import AsyncResult
from redis.asyncio import Redis

from service.core.celery_task import CeleryApp
from service.core.celery_task.mail import SEND_EMAIL_TASK, PendingEmailStore
from service.core.config import Settings
from service.core.db.redis.redis_client import build_redis_client
from service.core.helpers.mail import OutgoingEmail, PermanentMailError
from tests.service.core.celery_task.conftest import module_settings, producer
from tests.service.core.celery_task.processes import (
    CeleryProcess,
    RecordingHandler,
    celery_env,
    celery_worker,
    smtp_server,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[RecordingHandler, int]]:
    handler = RecordingHandler()
    with smtp_server(handler) as controller:
        yield handler, controller.port


OVERRIDES: dict[str, object] = {
    "celery_retry_backoff_base_seconds": 0.2,
    "celery_retry_backoff_max_seconds": 2,
    "celery_max_retries": 3,
    "mail_backend": "smtp",
    "smtp_host": "127.0.0.1",
    "smtp_starttls": False,
}


@pytest.fixture(scope="module")
def celery_settings(
    stack_env: dict[str, str], run_id: str, smtp: tuple[RecordingHandler, int]
) -> Settings:
    return module_settings(stack_env, run_id, "retries", smtp_port=smtp[1], **OVERRIDES)


@pytest.fixture(scope="module")
def celery_app(
    celery_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CeleryApp]:
    env = celery_env(celery_settings, smtp_port=celery_settings.smtp_port, **OVERRIDES)
    log = tmp_path_factory.mktemp("retries") / "worker.log"
    with producer(celery_settings) as app, celery_worker(env, log) as worker:
        app.worker = worker  # type: ignore[attr-defined]
        yield app


@pytest.fixture
async def outbox(celery_settings: Settings) -> AsyncIterator[PendingEmailStore]:
    redis: Redis = build_redis_client(celery_settings)
    try:
        yield PendingEmailStore.from_settings(redis, celery_settings)
    finally:
        await redis.aclose()


async def stored(outbox: PendingEmailStore, to: str) -> str:
    return await outbox.save(OutgoingEmail(to=to, subject="Hello", text="token: abc", kind="test"))


def worker_of(app: CeleryApp) -> CeleryProcess:
    process: CeleryProcess = app.worker  # type: ignore[attr-defined]
    return process


async def test_a_transient_error_is_retried_and_then_succeeds(
    celery_app: CeleryApp, outbox: PendingEmailStore, smtp: tuple[RecordingHandler, int]
) -> None:
    handler, _ = smtp
    rcpt = "transient@example.com"
    handler.script[rcpt] = ["451 4.3.0 Try again later", "451 4.3.0 Try again later"]
    email_id = await stored(outbox, rcpt)

    result: AsyncResult = celery_app.send_task(SEND_EMAIL_TASK, args=[email_id])  # type: ignore[type-arg]
    assert result.get(timeout=60) == "sent"

    assert handler.attempts[rcpt] == 3
    assert len(handler.accepted_for(rcpt)) == 1
    retried = [
        r
        for r in worker_of(celery_app).records()
        if r.get("message") == "task failed with a transient error; retrying"
        and r.get("task_id") == result.id
    ]
    assert [r["error"] for r in retried] == ["TransientMailError", "TransientMailError"]
    assert await outbox.load(email_id) is None  # delivered mail leaves the outbox


def _failed_records(celery_app: CeleryApp, task_id: str) -> list[dict[str, object]]:
    """The failed-task records of task_id, waiting up to 10 s for the first to appear."""
    deadline = time.monotonic() + 10
    while True:
        raw_records = celery_app.backend_redis.lrange(celery_app.failed_tasks_key, 0, -1)
        mine = [r for r in map(json.loads, raw_records) if r["task_id"] == task_id]
        if mine or time.monotonic() > deadline:
            return mine
        time.sleep(0.05)


async def test_a_permanent_error_is_not_retried_and_is_recorded(
    celery_app: CeleryApp, outbox: PendingEmailStore, smtp: tuple[RecordingHandler, int]
) -> None:
    handler, _ = smtp
    rcpt = "nobody@example.com"
    handler.script[rcpt] = ["550 5.1.1 No such user"]
    email_id = await stored(outbox, rcpt)

    result: AsyncResult = celery_app.send_task(SEND_EMAIL_TASK, args=[email_id])  # type: ignore[type-arg]
    with pytest.raises(PermanentMailError):
        result.get(timeout=60)

    assert result.state == "FAILURE"
    assert handler.attempts[rcpt] == 1
    assert handler.accepted_for(rcpt) == []
    # Celery stores the FAILURE state before it calls on_failure, which writes the record: the
    # result can be seen a moment before the record exists (seen under load).
    mine = _failed_records(celery_app, result.id)
    assert len(mine) == 1
    assert mine[0]["task"] == SEND_EMAIL_TASK
    assert mine[0]["error"] == "PermanentMailError"
    assert mine[0]["retries"] == 0
    assert mine[0]["args"] == [email_id]


async def test_a_second_delivery_of_the_same_mail_sends_nothing(
    celery_app: CeleryApp, outbox: PendingEmailStore, smtp: tuple[RecordingHandler, int]
) -> None:
    handler, _ = smtp
    rcpt = "once@example.com"
    email_id = await stored(outbox, rcpt)

    first = celery_app.send_task(SEND_EMAIL_TASK, args=[email_id])
    assert first.get(timeout=60) == "sent"
    second = celery_app.send_task(SEND_EMAIL_TASK, args=[email_id])
    assert second.get(timeout=60) == "already-sent"

    assert len(handler.accepted_for(rcpt)) == 1


async def test_an_unknown_mail_id_fails_permanently(celery_app: CeleryApp) -> None:
    result = celery_app.send_task(SEND_EMAIL_TASK, args=["no-such-mail"])
    with pytest.raises(Exception, match="not in the outbox"):
        result.get(timeout=60)
    assert result.state == "FAILURE"
