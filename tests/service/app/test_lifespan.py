"""The app's shutdown: every client it opened is closed before the lifespan ends."""

from __future__ import annotations

import asyncio

from service.core.config import Settings
from service.core.container import CoreContainer
from tests.conftest import make_test_settings, private_app


async def test_shutdown_closes_the_clients_before_it_returns(
    stack_env: dict[str, str], run_id: str
) -> None:
    settings: Settings = make_test_settings(stack_env, run_id + "-lifespan")
    before = asyncio.all_tasks()
    async with private_app(settings) as (app, http):
        assert (await http.get("/healthz/ready")).status_code == 200
        database = await app.state.container.resolve(CoreContainer.database)
        await database.client.drop_database(database.name)
    # Nothing the app started may still run once its lifespan is over: clients closing in
    # orphan tasks outlive the app (and, at a test session's end, hung the loop's teardown).
    left = {task for task in asyncio.all_tasks() - before if not task.done()}
    left.discard(asyncio.current_task())
    assert not left, sorted(task.get_name() for task in left)
