"""The cost of telemetry per request: `python bench/telemetry_cost.py`.

The cached `GET /api/v1/users/me` and the cache-miss `GET /api/v1/users/{id}` (a different user
each request, the cache dropped first), side by side in three columns: telemetry off, on at the
default sampling ratio (TELEMETRY_SAMPLE_RATIO's default), and on at 100 %. Telemetry on is the
production set-up: the environment prod's task definitions give the app container
(`infra.telemetry.app_environment`: the OTLP/HTTP exporter, exponential delta histograms, the
request metric left to CloudWatch Logs' filters on the access lines) with its instrumentations
and metrics, sending to the collector sidecar's local stand-in
(`scripts/rehearse/collector.py`, a process of its own that decodes and records what it gets,
as the sidecar would beside the task).

Two measures, each column in processes of its own (instrumentation is per process), rounds
interleaved (off, default, 100 %, off, ...):

- served, as `bench/run.py` measures: three APIs (`service/main.py`, production settings) and
  wrk; req/s, the mean over the rounds. The target is read here: at the default ratio the cached
  `/users/me` keeps at least 0.85 of its telemetry-off throughput.
- in-process, as `bench/app_cost.py` measures: microseconds per request, the best batch; the
  server's own share is not in it, so telemetry's share looks larger (reported, not targeted).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.app_cost import ASGIApp, Headers, call  # noqa: E402
from bench.seed import migrate_database, seed_users  # noqa: E402
from infra.config import load_configs  # noqa: E402
from infra.telemetry import app_environment  # noqa: E402
from scripts import stack  # noqa: E402
from scripts.rehearse.collector import LISTENING  # noqa: E402
from service.core.config import Settings  # noqa: E402

DEFAULT_RATIO = Settings.model_fields["telemetry_sample_ratio"].default
MODES = {"off": None, "default": DEFAULT_RATIO, "100%": 1.0}
TARGET = ("me", "default", 0.85)


async def _batch_cost(app: ASGIApp, paths: list[str], headers: Headers) -> float:
    started = time.perf_counter()
    for path in paths:
        await call(app, "GET", path, headers)
    return (time.perf_counter() - started) / len(paths) * 1e6


async def measure(count: int, batches: int) -> dict[str, float]:
    """In this process (its telemetry set by the environment): microseconds per request."""
    from bench.run import drop_cache
    from service.app.container import build_container
    from service.app.server import create_app
    from service.app.users.container import UsersContainer

    container = build_container()
    app = create_app(container=container)
    async with app.router.lifespan_context(app):
        await container.provided(UsersContainer.auth_near_cache).wait_live()
        body = [(b"content-type", b"application/json")]

        async def bearer(email: str) -> Headers:
            login = {"email": email, "password": os.environ["BENCH_PASSWORD"]}
            status, tokens = await call(
                app, "POST", "/api/v1/auth/login", body, json.dumps(login).encode()
            )
            assert status == 200, tokens
            return [(b"authorization", b"Bearer " + json.loads(tokens)["access_token"].encode())]

        user, admin = (
            await bearer(os.environ["BENCH_USER"]),
            await bearer(os.environ["BENCH_ADMIN"]),
        )
        ids = os.environ["BENCH_IDS"].split(",")[:count]
        me = ["/api/v1/users/me"] * count
        misses = [f"/api/v1/users/{user_id}" for user_id in ids]
        status, answer = await call(app, "GET", me[0], user)  # warms the cache
        assert status == 200, answer
        best = {"me": float("inf"), "miss": float("inf")}
        for _ in range(batches):
            best["me"] = min(best["me"], await _batch_cost(app, me, user))
            drop_cache(os.environ["REDIS_URL"], os.environ["REDIS_KEY_PREFIX"])
            best["miss"] = min(best["miss"], await _batch_cost(app, misses, admin))
        return best


def telemetry_env(mode: str, collector: str) -> dict[str, str]:
    """A column's telemetry: off, or prod's set-up at the column's ratio, sent to `collector`."""
    ratio = MODES[mode]
    if ratio is None:
        return {"TELEMETRY_ENABLED": "false"}
    production = app_environment(load_configs()["prod"])
    return production | {
        "TELEMETRY_SAMPLE_RATIO": str(ratio),
        "TELEMETRY_OTLP_ENDPOINT": collector,
    }


@contextmanager
def collector_stand_in(scratch: Path) -> Iterator[str]:
    """The sidecar's stand-in on a free local port; yields its OTLP/HTTP endpoint."""
    port = stack.free_port()
    log = scratch / "collector.log"
    argv = [sys.executable, "-m", "scripts.rehearse.collector"]
    argv += ["--listen", f"127.0.0.1:{port}", "--out", str(scratch / "received.jsonl")]
    with log.open("wb") as out:
        process = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while LISTENING not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the collector stand-in did not start: {log.read_text()}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def served(
    env: dict[str, str],
    ids: list[str],
    scratch: Path,
    collector: str,
    *,
    seconds: int,
    rounds: int,
) -> dict[str, dict[str, float]]:
    """req/s of each column's own served API (its own Redis prefix, so caches are not shared)."""
    from bench.harness import _http_json, interleave, server
    from bench.run import drop_cache
    from bench.seed import write_miss_script

    rps: dict[str, dict[str, float]] = {mode: {} for mode in MODES}
    with ExitStack() as running:
        apis, prefixes = {}, {}
        for mode in MODES:
            port = stack.free_port()
            prefixes[mode] = f"{env['REDIS_KEY_PREFIX']}:{mode.rstrip('%')}"
            apis[mode] = running.enter_context(
                server(
                    mode,
                    [sys.executable, "service/main.py", "--env", "prod"],
                    {
                        **env,
                        **telemetry_env(mode, collector),
                        "PORT": str(port),
                        "REDIS_KEY_PREFIX": prefixes[mode],
                    },
                    port,
                    "/healthz/ready",
                    scratch / f"api-{mode.rstrip('%')}.log",
                )
            )

        def bearer(base: str, email: str) -> dict[str, str]:
            login = {"email": email, "password": env["BENCH_PASSWORD"]}
            token = _http_json("POST", f"{base}/api/v1/auth/login", login)["access_token"]
            return {"Authorization": f"Bearer {token}"}

        def sides(route: str) -> list[tuple[str, dict[str, Any]]]:
            built = []
            for mode, api in apis.items():
                options: dict[str, Any] = {"connections": 32, "seconds": seconds}
                if route == "me":
                    options |= {
                        "url": f"{api.base}/api/v1/users/me",
                        "headers": bearer(api.base, env["BENCH_USER"]),
                    }
                    _http_json("GET", options["url"], token=options["headers"]["Authorization"][7:])
                else:
                    options |= {
                        "url": f"{api.base}/api/v1/users/",
                        "headers": bearer(api.base, env["BENCH_ADMIN"]),
                        "script": write_miss_script(ids, scratch / "miss.lua"),
                    }
                built.append((mode, options))
            return built

        def forget() -> None:
            for prefix in prefixes.values():
                drop_cache(env["REDIS_URL"], prefix)

        for route in ("me", "miss"):
            print(f"served: {route} ...", flush=True)
            runs = interleave(
                *sides(route), rounds=rounds, before_first=forget if route == "miss" else None
            )
            for mode, results in runs.items():
                rps[mode][route] = sum(r["rps"] for r in results) / len(results)
    return rps


def _child(count: int, batches: int) -> int:
    # The access log is written as in production, to a buffer instead of the terminal.
    stdout, sys.stdout = sys.stdout, io.StringIO()
    from service.core.logging import configure_logging

    configure_logging("INFO")
    import uvloop

    try:
        costs = uvloop.run(measure(count, batches))
    finally:
        sys.stdout = stdout
    print(json.dumps(costs))
    return 0


def in_process(env: dict[str, str], collector: str, args: argparse.Namespace) -> dict[str, Any]:
    """Microseconds per request of each column, the best batch over the rounds."""
    costs: dict[str, dict[str, float]] = {mode: {} for mode in MODES}
    for round_ in range(args.rounds):
        for mode in MODES:
            print(f"in-process: round {round_ + 1}, telemetry {mode} ...", flush=True)
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    f"--count={args.count}",
                    f"--batches={args.batches}",
                ],
                env={**env, **telemetry_env(mode, collector)},
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            )
            result = json.loads(out.stdout.strip().splitlines()[-1])
            for route, micros in result.items():
                costs[mode][route] = min(costs[mode].get(route, float("inf")), micros)
    return costs


ROUTES = {"me": "GET /api/v1/users/me (cached)", "miss": "GET /api/v1/users/{id} (miss)"}


def table(title: str, values: dict[str, dict[str, float]], fmt: str) -> None:
    print(f"\n{title:<34}" + "".join(f"{mode:>12}" for mode in MODES))
    for route, label in ROUTES.items():
        print(f"{label:<34}" + "".join(f"{values[m][route]:>12{fmt}}" for m in MODES))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=2000, help="in-process requests per batch")
    parser.add_argument("--batches", type=int, default=3, help="in-process batches per round")
    parser.add_argument("--rounds", type=int, default=3, help="off/default/100 %% interleavings")
    parser.add_argument("--seconds", type=int, default=8, help="length of a served wrk round")
    parser.add_argument("--users", type=int, default=20_000, help="users seeded (miss ids)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(args.count, args.batches)

    if os.environ.get("REDIS_URL") and os.environ.get("MONGODB_URL"):
        stack_env = {k: os.environ[k] for k in ("REDIS_URL", "MONGODB_URL")}
    else:
        stack_env = stack.up()
    tag = secrets.token_hex(4)
    env = {
        **os.environ,
        **stack_env,
        "APP_ENV": "prod",
        "MONGODB_DB": f"telemetry_cost_{tag}",
        "REDIS_KEY_PREFIX": f"telemetry-cost:{tag}",
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "LOG_LEVEL": "INFO",
    }
    asyncio.run(migrate_database(env))  # the API stays not-ready until its indexes exist
    seeded = asyncio.run(seed_users(env, max(args.users, args.count + 2)))
    env |= {
        "BENCH_PASSWORD": seeded.password,
        "BENCH_ADMIN": seeded.admin_email,
        "BENCH_USER": seeded.user_email,
        "BENCH_IDS": ",".join(seeded.ids[: args.count]),
    }
    with tempfile.TemporaryDirectory(prefix="telemetry-cost-") as folder:
        scratch = Path(folder)
        try:
            with collector_stand_in(scratch) as collector:
                rps = served(
                    env, seeded.ids, scratch, collector, seconds=args.seconds, rounds=args.rounds
                )
                costs = in_process(env, collector, args)
        finally:
            _drop_database(env)
    kept = {m: {r: rps[m][r] / rps["off"][r] for r in ROUTES} for m in MODES}
    table("served req/s (wrk, 32 connections)", rps, ",.0f")
    table("served throughput vs off", kept, ".2f")
    table("in-process us per request", costs, ".1f")
    share = {m: {r: costs["off"][r] / costs[m][r] for r in ROUTES} for m in MODES}
    table("in-process throughput vs off", share, ".2f")
    route, mode, floor = TARGET
    verdict = "ok" if kept[mode][route] >= floor else "BELOW TARGET"
    print(
        f"\nserved /users/me at the default ratio ({DEFAULT_RATIO}): "
        f"{kept[mode][route]:.2f} of telemetry off (target >= {floor}: {verdict})"
    )
    return 0 if kept[mode][route] >= floor else 1


def _drop_database(env: dict[str, str]) -> None:
    from pymongo import MongoClient

    client: MongoClient[dict[str, Any]]
    with MongoClient(env["MONGODB_URL"]) as client:
        client.drop_database(env["MONGODB_DB"])


if __name__ == "__main__":
    sys.exit(main())
