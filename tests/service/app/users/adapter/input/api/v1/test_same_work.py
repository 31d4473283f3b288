"""Finding 4 of issue 22: forgot-password (and the verification it shares a path with) does the
same work for a known and an unknown account; the decision is the worker's.

Counted, not timed: every MongoDB command of the app (a PyMongo command listener), every Redis
command under the app's key prefix (Redis MONITOR: rate limits, the stored request, the Celery
broker's message, i.e. the task) during one request. The timing itself is a benchmark
(`bench/run.py`, forgot-password known/unknown medians).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator

import pytest
from pymongo import monitoring
from redis.asyncio import Redis

from service.core.config import Settings
from tests.conftest import _drop_test_data, make_test_settings, private_app
from tests.service.app.users.conftest import API, PASSWORD, new_email


class Commands(monitoring.CommandListener):
    """The MongoDB commands sent to one database while `recording`."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.recording = False
        self.seen: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.recording and event.database_name == self.database:
            self.seen.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture(scope="module")
async def counted(stack_env: dict[str, str], run_id: str) -> AsyncIterator[tuple[object, ...]]:
    tag = uuid.uuid4().hex[:8]
    settings: Settings = make_test_settings(
        stack_env, run_id, mongodb_db=f"test_{run_id}_{tag}", redis_key_prefix=f"test:{tag}"
    )
    listener = Commands(settings.mongodb_db)
    monitoring.register(listener)  # clients created from here on report to it
    async with private_app(settings) as (application, http):
        yield http, listener, settings
        await _drop_test_data(application, settings)


_DIGITS = re.compile(r"[0-9a-f]{8,}|\d+(\.\d+)?")


Work = tuple[tuple[int, object], list[str], list[str]]


async def work_of(http: object, listener: Commands, settings: Settings, email: str) -> Work:
    """(answer, MongoDB commands, Redis commands) of one forgot-password request."""
    monitor_client = Redis.from_url(settings.redis_url)
    marker = f"{settings.redis_key_prefix}:marker:{uuid.uuid4().hex}"
    redis_commands: list[str] = []
    try:
        async with monitor_client.monitor() as monitor:

            async def collect() -> None:
                while True:
                    command = (await monitor.next_command())["command"]
                    if marker in command:
                        return
                    if settings.redis_key_prefix in command:
                        # The shape of the command: its name and its arguments with ids,
                        # digests, times and counts masked.
                        redis_commands.append(_DIGITS.sub("#", command.split(" ", 1)[0]))

            collector = asyncio.create_task(collect())
            await asyncio.sleep(0.05)  # MONITOR is on before the request starts
            listener.recording = True
            answer = await http.post(f"{API}/auth/password/forgot", json={"email": email})  # type: ignore[attr-defined]
            listener.recording = False
            await monitor_client.echo(marker)
            await asyncio.wait_for(collector, timeout=30)
    finally:
        await monitor_client.aclose()
    mongo = list(listener.seen)
    listener.seen.clear()
    return (answer.status_code, answer.json()), mongo, redis_commands


async def test_forgot_password_does_the_same_work_for_known_and_unknown_accounts(
    counted: tuple[object, ...],
) -> None:
    http, listener, settings = counted
    assert isinstance(listener, Commands)
    assert isinstance(settings, Settings)
    email = new_email("known")
    registered = await http.post(  # type: ignore[attr-defined]
        f"{API}/auth/register", json={"email": email, "password": PASSWORD, "full_name": "K"}
    )
    assert registered.status_code == 201
    await work_of(http, listener, settings, new_email("warm-up"))  # first publish connects
    known = await work_of(http, listener, settings, email)
    unknown = await work_of(http, listener, settings, new_email("nobody"))
    assert known[0] == unknown[0] == (202, {"status": "accepted"})
    assert known[1] == unknown[1], "MongoDB commands differ"
    assert known[2] == unknown[2], "Redis commands (rate limits, request, task) differ"
    # The task is in it: one broker message per request, whoever asked.
    assert any(name in ("LPUSH", "RPUSH") for name in known[2]), known[2]
