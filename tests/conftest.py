"""Shared fixtures: the real Redis, MongoDB wire server and S3 that scripts/stack starts.

Each test session works in its own MongoDB database and Redis key prefix, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from scripts.stack import free_port
from service.app.modules import MODULES
from service.app.server import create_app
from service.app.settings import load_settings
from service.core.config import Settings
from service.core.container import CoreContainer
from service.core.db.database import Database, build_mongo_client
from service.core.schema import migrate

# pytester: the DocumentDB gate's own test runs a small suite through it.
pytest_plugins = ["pytester", "tests.docdb.gate"]

ROOT = Path(__file__).resolve().parent.parent
STACK_VARIABLES = ("REDIS_URL", "MONGODB_URL", "S3_ENDPOINT_URL", "S3_BUCKET")


def _read_stack_env() -> dict[str, str]:
    env_file = ROOT / ".stack" / "env"
    values: dict[str, str] = {}
    for line in env_file.read_text().splitlines():
        line = line.removeprefix("export ").strip()
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value.strip("'\"")
    return values


def _describe(task: asyncio.Task[object]) -> str:
    stack = io.StringIO()
    task.print_stack(limit=6, file=stack)
    return f"{task.get_name()}: {task.get_coro()!r}\n{stack.getvalue()}"


@pytest.fixture(scope="session", autouse=True)
async def _no_task_outlives_the_session() -> AsyncIterator[None]:
    """Every task a test or fixture starts must end with it.

    At session end pytest-asyncio's runner cancels what is left, once, and waits for it without
    a time limit: a task that swallows that one cancel hangs the run for good. Whatever is still
    running here (after every other session fixture's teardown) is a leak: it is reported by
    name and stack, and cancelled until it ends, within a bound, so the run ends either way.
    """
    yield
    current = asyncio.current_task()
    left = [task for task in asyncio.all_tasks() if task is not current and not task.done()]
    if not left:
        return
    report = "\n".join(_describe(task) for task in left)
    deadline = asyncio.get_running_loop().time() + 10
    while any(not task.done() for task in left):
        if asyncio.get_running_loop().time() > deadline:
            break
        for task in left:
            task.cancel()
        await asyncio.wait(left, timeout=0.1)
    stuck = [task.get_name() for task in left if not task.done()]
    pytest.fail(
        f"{len(left)} task(s) outlived the test session (still stuck after 10 s of cancels: "
        f"{stuck or 'none'}):\n{report}",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def stack_env() -> dict[str, str]:
    """URLs of the local stack; started here when the caller did not give them."""
    if all(os.environ.get(name) for name in ("REDIS_URL", "MONGODB_URL")):
        return {k: os.environ[k] for k in STACK_VARIABLES if k in os.environ}
    subprocess.run([sys.executable, "-m", "scripts.stack", "up"], cwd=ROOT, check=True)
    values = _read_stack_env()
    for key, value in values.items():
        os.environ.setdefault(key, value)
    return values


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:12]


# Every test's client is one address and the suite registers and signs in hundreds of times:
# its app has room enough; the rate-limit tests build apps with the real limits.
SUITE_RATE_LIMITS = {
    f"{action}.{scope}": "100000/minute"
    for action in ("login", "register", "forgot", "reset", "verify_resend", "reauth")
    for scope in ("account", "address")
} | {"verify.address": "100000/minute"}


def make_test_settings(stack_env: dict[str, str], run_id: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "rate_limits": SUITE_RATE_LIMITS,
        "mongodb_url": stack_env["MONGODB_URL"],
        "mongodb_db": f"test_{run_id}",
        "redis_url": stack_env["REDIS_URL"],
        "redis_key_prefix": f"test:{run_id}",
        "s3_bucket": stack_env.get("S3_BUCKET", "biwoco-local"),
        "s3_endpoint_url": stack_env.get("S3_ENDPOINT_URL"),
    }
    values.update(overrides)
    return load_settings("test", **values)


@pytest.fixture(scope="session")
async def settings(stack_env: dict[str, str], run_id: str) -> Settings:
    """The session's settings, its database migrated first (as `scripts/run` and a deploy do:
    the API builds no index)."""
    session_settings = make_test_settings(stack_env, run_id)
    await migrate(session_settings, MODULES)
    return session_settings


async def _drop_test_data(application: FastAPI, settings: Settings) -> None:
    database = await application.state.container.resolve(CoreContainer.database)
    await database.client.drop_database(database.name)
    redis = await application.state.container.resolve(CoreContainer.redis_client)
    async for key in redis.scan_iter(match=f"{settings.redis_key_prefix}:*", count=1000):
        await redis.delete(key)


def http_client(application: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@asynccontextmanager
async def private_app(
    settings: Settings, *, migrated: bool = True
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An app of its own (own container and resources), for tests that break its stores; its
    database migrated first unless `migrated` is False."""
    if migrated:
        await migrate(settings, MODULES)
    application = create_app(settings)
    async with (
        application.router.lifespan_context(application),
        http_client(application) as http,
    ):
        yield application, http


@asynccontextmanager
async def scratch_database(settings: Settings, label: str) -> AsyncIterator[Database]:
    """A database of its own beside the session's (`<session db>_<label>_<random>`), dropped
    at the end: for tests that need an empty or unmigrated one."""
    client = build_mongo_client(settings)
    database = client.get_database(f"{settings.mongodb_db}_{label}_{uuid.uuid4().hex[:6]}")
    try:
        yield database
    finally:
        await client.drop_database(database.name)
        await client.close()


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application
        await _drop_test_data(application, settings)


@pytest.fixture(scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(app) as http:
        yield http


@contextmanager
def served_api(
    stack_env: dict[str, str], run_id: str, log: Path, **env_overrides: str
) -> Iterator[str]:
    """`python service/main.py` (uvicorn) on a free loopback port; its output goes to `log`."""
    port = free_port()
    env = {
        **os.environ,
        **stack_env,
        "APP_ENV": "test",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "MONGODB_DB": f"test_{run_id}_live",
        "REDIS_KEY_PREFIX": f"test:{run_id}:live",
        "RATE_LIMITS": json.dumps(SUITE_RATE_LIMITS),
        **env_overrides,
    }
    with log.open("wb") as out:
        # As `scripts/run` and a deploy do: the migrations first (the API builds no index).
        main = [sys.executable, str(ROOT / "service" / "main.py"), "--env", "test"]
        subprocess.run(
            [*main, "migrate"], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, check=True
        )
        process = subprocess.Popen(
            main,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(base + "/healthz/ready", timeout=1):  # noqa: S310
                        break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            f"the API did not start:\n{log.read_text()[-2000:]}"
                        ) from None
                    time.sleep(0.2)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="session")
def live_api(
    stack_env: dict[str, str], run_id: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The API served for real (`python service/main.py`, uvicorn) on a free loopback port.

    For tests that need a real HTTP server: fuzzing, oversized headers, invalid bytes on the wire.
    """
    log = tmp_path_factory.mktemp("live_api") / "api.log"
    with served_api(stack_env, run_id, log) as base:
        yield base
