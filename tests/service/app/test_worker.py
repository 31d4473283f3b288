"""The worker bootstrap: one event loop and one set of clients per worker process, and Sentry's
Celery integration (with beat monitoring) initialised when the worker starts."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
import sentry_sdk
from pydantic import SecretStr
from sentry_sdk.integrations.celery import CeleryIntegration

from service.app import worker
from service.app.container import build_container
from service.core.celery_task import create_celery_app
from service.core.config import Settings
from service.core.container import CoreContainer
from service.core.worker.runtime import WorkerRuntime
from tests.service.core.celery_task.conftest import module_settings, producer
from tests.service.core.celery_task.processes import celery_env, celery_worker, wait_for
from tests.service.core.helpers.test_sentry import CapturingTransport


def test_one_loop_and_one_set_of_clients_serve_every_task(settings: Settings) -> None:
    def exercise() -> None:
        runtime = WorkerRuntime()
        runtime.configure(lambda: build_container(settings))
        runtime.start()

        async def task() -> tuple[object, object, object]:
            redis = await runtime.resolve(CoreContainer.redis_client)
            database = await runtime.resolve(CoreContainer.database)
            assert await redis.ping()
            assert (await database.command("ping"))["ok"] == 1
            return asyncio.get_running_loop(), redis, database.client

        first, second = runtime.run(task()), runtime.run(task())
        assert first[0] is second[0]  # the same loop
        assert first[1] is second[1]  # the same Redis client
        assert first[2] is second[2]  # the same MongoDB client
        loop = first[0]
        assert isinstance(loop, asyncio.AbstractEventLoop)
        runtime.stop()
        assert loop.is_closed()
        assert not runtime.started

    # A worker process has no running loop; neither does this thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(exercise).result(timeout=60)


def test_sentry_is_initialised_with_the_celery_integration_and_beat_monitoring(
    settings: Settings,
) -> None:
    configured = settings.model_copy(update={"sentry_dsn": SecretStr("https://k@sentry.invalid/1")})
    try:
        assert worker.init_worker_sentry(configured, transport=CapturingTransport())
        integration = sentry_sdk.get_client().get_integration(CeleryIntegration)
        assert integration is not None
        assert integration.monitor_beat_tasks is True
    finally:
        sentry_sdk.init()  # no DSN: Sentry off again for the rest of the session


class _SentrySink(BaseHTTPRequestHandler):
    envelopes: ClassVar[list[list[dict[str, Any]]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        items = []
        for line in body.splitlines():
            try:
                items.append(json.loads(line))
            except ValueError:
                continue
        type(self).envelopes.append(items)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def sentry_sink() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SentrySink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://public@127.0.0.1:{server.server_address[1]}/1"
    finally:
        server.shutdown()


@pytest.mark.integration
def test_a_failing_task_in_a_real_worker_reaches_sentry(
    stack_env: dict[str, str],
    run_id: str,
    sentry_sink: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    settings = module_settings(stack_env, run_id, "sentry")
    env = celery_env(settings, sentry_dsn=sentry_sink)
    log = tmp_path_factory.mktemp("sentry") / "worker.log"
    with producer(settings), celery_worker(env, log):
        result = create_celery_app(settings).send_task("mail.send_email", args=["missing"])
        with pytest.raises(Exception, match="not in the outbox"):
            result.get(timeout=60)

        def reported() -> bool:
            return any(
                value.get("type") == "PermanentTaskError"
                for envelope in _SentrySink.envelopes
                for item in envelope
                for value in item.get("exception", {}).get("values", [])
            )

        wait_for(reported, within=30, what="the task error to reach Sentry")
