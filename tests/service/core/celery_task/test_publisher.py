"""A broker that cannot be reached (the result store still up) is a 503 problem for the client,
not a 500."""

from __future__ import annotations

import pytest
from celery import signals

from scripts.stack import free_port
from service.core.celery_task import create_celery_app
from service.core.celery_task.publisher import TaskPublisher
from service.core.config import Settings
from service.core.exceptions import ServiceUnavailableError
from tests.conftest import make_test_settings


async def test_an_unreachable_broker_is_service_unavailable(
    stack_env: dict[str, str], run_id: str
) -> None:
    settings: Settings = make_test_settings(
        stack_env, run_id, celery_broker_url=f"redis://127.0.0.1:{free_port()}/0"
    )
    publisher = TaskPublisher(create_celery_app(settings))
    with pytest.raises(ServiceUnavailableError) as raised:
        await publisher.send("users.deliver_recovery", "some-id")
    assert raised.value.code == "broker_unavailable"


async def test_sending_never_listens_for_a_result(settings: Settings) -> None:
    """Nobody reads a result the API sends for: a send neither subscribes to its result channel
    on the result store nor asks the worker to store one (one round trip fewer per send, and no
    result-store retries holding a request when only that store is down)."""
    app = create_celery_app(settings)
    listening = app.backend_redis  # the result store
    publisher = TaskPublisher(app)
    sent: list[dict[str, object]] = []

    def record(headers: dict[str, object], **_: object) -> None:
        sent.append(headers)

    signals.before_task_publish.connect(record, weak=False)
    try:
        await publisher.send("users.deliver_recovery", "some-id")
    finally:
        signals.before_task_publish.disconnect(record)
    assert len(sent) == 1
    assert sent[0].get("ignore_result") is True
    assert listening.pubsub_channels(f"*{sent[0]['id']}") == []
    app.close()
