"""A broker that cannot be reached (the result store still up) is a 503 problem for the client,
not a 500."""

from __future__ import annotations

import pytest

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
