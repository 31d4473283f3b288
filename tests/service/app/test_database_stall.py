"""A stalled database (the process frozen, SIGSTOP: connections stay open and nothing answers)
under load: every request answers within the documented bound (docs/operations.md: a 503
within 5 s), and nothing the API acknowledged is lost.

The database is a mongo-java-server of this test's own (never the shared stack's), frozen for
longer than the bound. Bound by PyMongo's `timeoutMS` (`MONGODB_OPERATION_TIMEOUT_MS`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from scripts.stack import free_port, start_mongo_server
from service.core.container import CoreContainer
from tests.conftest import make_test_settings, private_app
from tests.service.app.users.conftest import API, bearer, login, register

BOUND_SECONDS = 5.0  # docs/operations.md
FROZEN_SECONDS = 8.0
PROBLEM = "application/problem+json"


@dataclass
class Calls:
    slowest: float = 0.0
    statuses: dict[tuple[str, int], int] = field(default_factory=dict)
    acknowledged: list[str] = field(default_factory=list)  # files the API answered 201 for
    not_problems: list[str] = field(default_factory=list)

    def record(self, name: str, response: httpx.Response, took: float) -> None:
        self.slowest = max(self.slowest, took)
        key = (name, response.status_code)
        self.statuses[key] = self.statuses.get(key, 0) + 1
        if response.status_code >= 400 and response.headers.get("content-type") != PROBLEM:
            self.not_problems.append(f"{name}: {response.status_code} {response.text[:200]}")

    def count(self, name: str, status: int) -> int:
        return self.statuses.get((name, status), 0)


async def test_a_frozen_database_answers_503_within_the_bound_and_loses_no_write(
    stack_env: dict[str, str], run_id: str, tmp_path: Path
) -> None:
    database = start_mongo_server(free_port(), tmp_path, backend="memory")
    assert database.pid is not None
    settings = make_test_settings(
        stack_env, run_id + "-stall", mongodb_url=database.url, files_quota_max_count=100_000
    )
    frozen = False
    try:
        async with private_app(settings) as (app, http):
            user = await register(http)
            token = (await login(http, str(user["email"]))).json()["access_token"]
            calls, stop = Calls(), asyncio.Event()

            async def timed(name: str, request: httpx.Request) -> None:
                started = time.monotonic()
                response = await http.send(request)
                calls.record(name, response, time.monotonic() - started)
                if name == "create" and response.status_code == 201:
                    calls.acknowledged.append(response.json()["id"])

            async def worker() -> None:
                while not stop.is_set():
                    body = {"filename": f"{uuid.uuid4().hex}.txt", "content_type": "text/plain"}
                    create = http.build_request(
                        "POST", f"{API}/files", json={**body, "size": 5}, headers=bearer(token)
                    )
                    await timed("create", create)
                    listing = http.build_request("GET", f"{API}/files", headers=bearer(token))
                    await timed("list", listing)

            running = asyncio.gather(*(worker() for _ in range(4)))
            await asyncio.sleep(1.0)
            os.killpg(database.pid, signal.SIGSTOP)
            frozen = True
            await asyncio.sleep(FROZEN_SECONDS)
            during = dict(calls.statuses)
            os.killpg(database.pid, signal.SIGCONT)
            frozen = False
            await asyncio.sleep(3.0)
            stop.set()
            await asyncio.wait_for(running, timeout=30)

            assert calls.slowest <= BOUND_SECONDS, f"a request took {calls.slowest:.1f} s"
            assert not calls.not_problems, calls.not_problems
            assert during.get(("create", 503), 0) > 0  # the freeze was felt, as 503s
            assert not {s for (_, s) in calls.statuses} - {200, 201, 503}, calls.statuses
            # after the thaw the API serves again, and every acknowledged write is there
            assert calls.count("create", 201) > during.get(("create", 201), 0)
            db = await app.state.container.resolve(CoreContainer.database)
            stored = {
                document["_id"]
                async for document in db["files"].find(
                    {"_id": {"$in": calls.acknowledged}}, projection={"_id": 1}
                )
            }
            assert set(calls.acknowledged) <= stored, len(set(calls.acknowledged) - stored)
    finally:
        if frozen:
            os.killpg(database.pid, signal.SIGCONT)
        database.stop()
