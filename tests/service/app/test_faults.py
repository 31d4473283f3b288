"""Faults under load: Redis or the database stops while clients keep calling, then comes back.

What must hold (docs/operations.md): no 500 and no hang at any point; every error is a problem;
a revoked token is never let through, before, during or after; readiness names what is down;
everything recovers without restarting the API.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from scripts.stack import free_port, start_mongo_server, start_redis
from tests.conftest import make_test_settings, private_app
from tests.service.app.users.conftest import API, bearer, login, register

PROBLEM = "application/problem+json"


@dataclass
class Observed:
    statuses: Counter[tuple[str, int, str]] = field(default_factory=Counter)
    revoked_let_through: int = 0
    not_problems: list[str] = field(default_factory=list)

    def record(self, name: str, response: httpx.Response) -> None:
        code = ""
        if response.status_code >= 400:
            if response.headers.get("content-type") != PROBLEM:
                self.not_problems.append(f"{name}: {response.status_code} {response.text[:200]}")
            else:
                code = response.json()["code"]
        self.statuses[(name, response.status_code, code)] += 1

    def of(self, name: str) -> Counter[tuple[int, str]]:
        return Counter({(s, c): n for (k, s, c), n in self.statuses.items() if k == name})


async def load(
    calls: Mapping[str, Callable[[], Awaitable[httpx.Response]]],
    observed: Observed,
    stop: asyncio.Event,
    workers: int = 8,
) -> None:
    async def worker() -> None:
        while not stop.is_set():
            for name, call in calls.items():
                response = await call()
                observed.record(name, response)
                if name == "revoked" and response.status_code == 200:
                    observed.revoked_let_through += 1

    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(workers))), timeout=120)


async def until(check: Callable[[], Awaitable[bool]], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "did not recover in time"
        await asyncio.sleep(0.2)


async def test_redis_stops_under_load_fails_closed_and_recovers(
    stack_env: dict[str, str], run_id: str, tmp_path: Path
) -> None:
    redis = start_redis(free_port(), tmp_path)
    settings = make_test_settings(stack_env, run_id + "-fault-redis", redis_url=redis.url)
    try:
        async with private_app(settings) as (_, http):
            user = await register(http)
            tokens = (await login(http, str(user["email"]))).json()
            quitter = await register(http)
            revoked = (await login(http, str(quitter["email"]))).json()["access_token"]
            assert (await http.post(f"{API}/auth/logout", headers=bearer(revoked))).status_code
            observed = Observed()
            stop = asyncio.Event()
            calls: dict[str, Callable[[], Awaitable[httpx.Response]]] = {
                "me": lambda: http.get(f"{API}/users/me", headers=bearer(tokens["access_token"])),
                "revoked": lambda: http.get(f"{API}/users/me", headers=bearer(revoked)),
                "ready": lambda: http.get("/healthz/ready"),
            }
            running = asyncio.create_task(load(calls, observed, stop))
            await asyncio.sleep(0.5)
            redis.stop()
            await asyncio.sleep(1.5)
            during = Observed()
            for name, call in calls.items():
                during.record(name, await call())
            redis.restart()
            await asyncio.sleep(1.0)
            stop.set()
            await running

            assert not observed.not_problems, observed.not_problems
            assert not any(status == 500 for (_, status, _) in observed.statuses)
            assert observed.revoked_let_through == 0
            # while Redis was down: authentication fails closed, readiness names Redis
            assert during.of("me") == Counter({(503, "redis_unavailable"): 1})
            assert during.of("revoked") == Counter({(503, "redis_unavailable"): 1})
            assert during.of("ready") == Counter({(503, "dependency_unavailable"): 1})
            assert observed.of("me")[(200, "")] > 0

            # recovery without restarting the API: readiness, then a fresh sign-in
            async def ready() -> bool:
                return (await http.get("/healthz/ready")).status_code == 200

            await until(ready)
            fresh = (await login(http, str(user["email"]))).json()["access_token"]
            assert (await http.get(f"{API}/users/me", headers=bearer(fresh))).status_code == 200
            assert (await http.get(f"{API}/users/me", headers=bearer(revoked))).status_code == 401
    finally:
        redis.stop()


async def test_database_stops_under_load_answers_503_and_recovers(
    stack_env: dict[str, str], run_id: str, tmp_path: Path
) -> None:
    database = start_mongo_server(free_port(), tmp_path)
    settings = make_test_settings(
        stack_env, run_id + "-fault-db", mongodb_url=database.url, mongodb_timeout_ms=500
    )
    try:
        async with private_app(settings) as (_, http):
            user = await register(http)
            token = (await login(http, str(user["email"]))).json()["access_token"]
            assert (await http.get(f"{API}/users/me", headers=bearer(token))).status_code == 200
            observed = Observed()
            stop = asyncio.Event()
            counter = iter(range(10**6))
            calls: dict[str, Callable[[], Awaitable[httpx.Response]]] = {
                "me": lambda: http.get(f"{API}/users/me", headers=bearer(token)),
                "register": lambda: http.post(
                    f"{API}/auth/register",
                    json={
                        "email": f"fault-{run_id}-{next(counter)}@example.com",
                        "password": "a-long-enough-password",
                        "full_name": "Fault Test",
                    },
                ),
                "ready": lambda: http.get("/healthz/ready"),
            }
            running = asyncio.create_task(load(calls, observed, stop, workers=4))
            await asyncio.sleep(0.5)
            database.stop()
            await asyncio.sleep(1.5)
            during = Observed()
            for name, call in calls.items():
                during.record(name, await call())
            database.restart()
            await asyncio.sleep(1.0)
            stop.set()
            await running

            assert not observed.not_problems, observed.not_problems
            assert not any(status == 500 for (_, status, _) in observed.statuses)
            # the cached profile keeps being served from Redis while the database is down
            assert during.of("me") == Counter({(200, ""): 1})
            assert during.of("register") == Counter({(503, "database_unavailable"): 1})
            assert during.of("ready") == Counter({(503, "dependency_unavailable"): 1})

            async def registers() -> bool:
                response = await calls["register"]()
                return response.status_code == 201

            await until(registers)
            assert (await http.get("/healthz/ready")).status_code == 200
    finally:
        database.stop()
