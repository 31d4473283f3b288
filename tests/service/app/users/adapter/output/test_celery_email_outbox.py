"""Mail from the API goes through Celery: registering enqueues a verification mail, a real
worker delivers it to an SMTP server on loopback, and the token in it verifies the account."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from service.app.users.adapter.output.celery_email_outbox import CeleryEmailOutbox
from service.core.celery_task import create_celery_app
from service.core.celery_task.mail import SEND_EMAIL_TASK, PendingEmailStore
from service.core.celery_task.publisher import TaskPublisher
from service.core.config import Settings
from service.core.db.redis.redis_client import build_redis_client
from service.core.helpers.mail import OutgoingEmail
from tests.service.app.users.conftest import API, new_email, register
from tests.service.core.celery_task.conftest import module_settings, producer
from tests.service.core.celery_task.processes import (
    RecordingHandler,
    async_wait_for,
    celery_env,
    celery_worker,
    smtp_server,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def private(stack_env: dict[str, str], run_id: str) -> AsyncIterator[tuple[Settings, Redis]]:
    settings = module_settings(stack_env, run_id, "outbox")
    redis: Redis = build_redis_client(settings)
    with producer(settings):
        try:
            yield settings, redis
        finally:
            await redis.aclose()


async def test_the_outbox_stores_the_mail_and_enqueues_only_its_id(
    private: tuple[Settings, Redis],
) -> None:
    settings, redis = private
    celery = create_celery_app(settings)
    store = PendingEmailStore.from_settings(redis, settings)
    mail = OutgoingEmail(to="ada@example.com", subject="Hi", text="token: s3cr3t-t0ken\n")

    await CeleryEmailOutbox(store, TaskPublisher(celery)).enqueue(mail)

    # On the email queue (default priority level), the message carries the mail id only.
    raw = await redis.lrange(f"{settings.redis_key_prefix}:celery:email\x06\x166", 0, -1)
    assert len(raw) == 1
    assert b"s3cr3t-t0ken" not in raw[0]
    message = json.loads(raw[0])
    assert message["headers"]["task"] == SEND_EMAIL_TASK
    args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
    assert kwargs == {}
    [email_id] = args
    assert await store.load(email_id) == mail


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[RecordingHandler, int]]:
    handler = RecordingHandler()
    with smtp_server(handler) as controller:
        yield handler, controller.port


@pytest.fixture(scope="module")
def worker(
    settings: Settings,
    smtp: tuple[RecordingHandler, int],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[None]:
    """A worker on the API's own settings (same Redis prefix and database), mailing via SMTP."""
    env = celery_env(
        settings,
        mail_backend="smtp",
        smtp_host="127.0.0.1",
        smtp_port=smtp[1],
        smtp_starttls="false",
    )
    log: Path = tmp_path_factory.mktemp("outbox") / "worker.log"
    with celery_worker(env, log):
        yield


async def test_registering_mails_a_token_that_verifies_the_account(
    client: httpx.AsyncClient, smtp: tuple[RecordingHandler, int], worker: None
) -> None:
    handler, _ = smtp
    email = new_email("verify")
    user = await register(client, email)
    assert user["is_verified"] is False

    [mail] = await async_wait_for(
        lambda: handler.accepted_for(email), within=60, what="the verification mail"
    )
    assert mail["Subject"] == "Confirm your email address"
    payload = mail.get_payload(decode=True)
    assert isinstance(payload, bytes)
    text = payload.decode()
    match = re.search(r"^token: (\S+)\r?$", text, re.MULTILINE)
    assert match, text

    response = await client.post(f"{API}/auth/verify-email", json={"token": match.group(1)})
    assert response.status_code == 200, response.text
    assert response.json()["is_verified"] is True
    # The token works once.
    again = await client.post(f"{API}/auth/verify-email", json={"token": match.group(1)})
    assert again.status_code == 400, again.text
    assert again.json()["code"] == "invalid_or_expired_token"
