"""The service benchmark: `python bench/run.py` (see README, "Benchmarks").

Starts the local stack, the API with its production settings (uvicorn with uvloop and httptools,
one process, JSON access log to a file) and bare FastAPI endpoints on an identical server (the
same uvicorn settings and logging configuration, one JSON access line per request): a constant
`/ok`, and the API's own database reads (`find_one` by id, the keyset page query) on a client
built the same way. Seeds users, then drives load with wrk from a second process, interleaving
rounds A B A B. No local server scans an index the way DocumentDB does, so the listing and the
cache miss are measured against the bare endpoint running the same query on the same database:
the ratio is what the service adds. The bare `/ok` also runs once more with no logging at all, a
stricter ceiling reported beside the target ratio. Writes a JSON result to bench/results/ and
prints the ratios against the targets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.forgot import BENCH_RATE_LIMITS, forgot_medians, report  # noqa: E402
from bench.harness import (  # noqa: E402
    Side,
    _http_json,
    interleave,
    server,
    summary,
    wrk,
)
from bench.seed import (  # noqa: E402
    migrate_database,
    seed_older_users,
    seed_users,
    write_miss_script,
)
from scripts import stack  # noqa: E402
from service.core.logging import logging_config  # noqa: E402

RESULTS = ROOT / "bench" / "results"
LOGIN_CONNECTIONS = 4
TARGETS = {
    "me_vs_bare_throughput": (">=", 0.6),
    "id_miss_vs_bare_find_one_throughput": (">=", 0.7),
    "first_page_vs_bare_latency": ("<=", 1.3),
    "deep_page_vs_bare_latency": ("<=", 1.3),
    "first_page_vs_bare_latency_large": ("<=", 1.3),
    "deep_page_vs_bare_latency_large": ("<=", 1.3),
    "p99_vs_p50_at_64": ("<=", 4.0),
    "api_peak_rss_mb": ("<", 200.0),
}


def bare_logging_config(path: Path) -> Path:
    """The API's logging configuration with uvicorn's access log on: the bare server writes one
    JSON line per request to the same kind of stream, as the API does (an identical server)."""
    config = logging_config("INFO")
    config["loggers"]["uvicorn.access"] = {"handlers": [], "propagate": True, "level": "INFO"}
    path.write_text(json.dumps(config))
    return path


def drop_database(url: str, name: str) -> None:
    """The run's users (up to 200,000) do not stay in the local stack's database file."""
    from pymongo import MongoClient

    client: MongoClient[dict[str, Any]] = MongoClient(url)
    try:
        client.drop_database(name)
    finally:
        client.close()


def drop_cache(redis_url: str, prefix: str) -> None:
    """Forget every cached entry of this run, so the next round reads only misses."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:cache:*", count=5000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
    finally:
        client.close()


@contextmanager
def run_database(run: str) -> Iterator[dict[str, str]]:
    """The database of this run: a throwaway mongo-java-server on its memory backend, unless
    MONGODB_URL is given. (The stack's H2 file takes seconds per page of 200,000 users: it would
    measure the file store, not the service; docs/performance.md, "The first run".)"""
    if os.environ.get("MONGODB_URL"):
        yield {}
        return
    workdir = Path(tempfile.mkdtemp(prefix="bench-mongo-"))
    port = stack.free_port()
    server = stack.start_mongo_server(
        port, workdir, backend="memory", log_path=RESULTS / f"{run}-mongo.log"
    )
    try:
        yield {"MONGODB_URL": f"mongodb://127.0.0.1:{port}/"}
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--seconds",
        type=int,
        default=20,
        help="length of one wrk round: every round opens its 64 connections at once, and that "
        "storm's first few hundred ms would otherwise be a large share of the p99",
    )
    parser.add_argument("--rounds", type=int, default=2, help="A B pairs per comparison")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument(
        "--large-users",
        type=int,
        default=200_000,
        help="the listing again with this many users (older ones added; the same newest pages)",
    )
    parser.add_argument("--deep", type=int, default=15_000, help="users before the deep page")
    parser.add_argument(
        "--page-connections",
        type=int,
        default=1,
        help="connections for the listing rounds (a latency comparison, not a load test: a "
        "local server may scan the collection for every page, and queueing would swamp it)",
    )
    parser.add_argument("--page-seconds", type=int, default=12, help="length of a listing round")
    parser.add_argument(
        "--telemetry",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="then the cost of telemetry: bench/telemetry_cost.py with these rounds and seconds",
    )
    args = parser.parse_args(argv)

    stack_env = stack.up()
    run = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(parents=True, exist_ok=True)
    database = f"bench_{run.lower()}"
    resources = ExitStack()
    database_env = resources.enter_context(run_database(run))
    env = {
        **os.environ,
        **stack_env,
        **database_env,
        "APP_ENV": "prod",
        "HOST": "127.0.0.1",
        "MONGODB_DB": database,
        "REDIS_KEY_PREFIX": f"bench:{run}",
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "LOG_LEVEL": "INFO",
        # The local server scans and sorts where DocumentDB reads an index (seconds per page at
        # 200,000 users): production's database bounds (2.5 s an operation, 4 s a request)
        # would cut the very queries compared. Raised alike for the API and the bare endpoints.
        "MONGODB_OPERATION_TIMEOUT_MS": "60000",
        "MONGODB_REQUEST_TIMEOUT_MS": "60000",
        "RATE_LIMITS": json.dumps(BENCH_RATE_LIMITS),
    }
    api_port, bare_port, silent_port = stack.free_port(), stack.free_port(), stack.free_port()
    python = sys.executable
    api_argv = [python, "service/main.py", "--env", "prod"]

    def bare_argv(port: int, *logging: str) -> list[str]:
        return [
            python,
            "-m",
            "uvicorn",
            "bench.bare_app:app",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            *logging,
        ]

    bare_logging = bare_logging_config(RESULTS / f"{run}-bare-logging.json")
    logged = bare_argv(bare_port, "--log-config", str(bare_logging))
    silent = bare_argv(silent_port, "--no-access-log", "--log-level", "warning")
    results: dict[str, Any] = {"run": run, "args": vars(args)}
    asyncio.run(migrate_database({**env}))  # before the API, as a deploy does
    try:
        with (
            server(
                "api",
                api_argv,
                {**env, "PORT": str(api_port)},
                api_port,
                "/healthz/ready",
                RESULTS / f"{run}-api.log",
            ) as api,
            server("bare", logged, env, bare_port, "/ok", RESULTS / f"{run}-bare.log") as bare,
            server(
                "bare_silent", silent, env, silent_port, "/ok", RESULTS / f"{run}-bare-silent.log"
            ) as bare_silent,
        ):
            print(f"seeding {args.users} users into {database} ...", flush=True)
            seeded = asyncio.run(seed_users({**env}, args.users, args.deep))
            admin_token = _http_json(
                "POST",
                f"{api.base}/api/v1/auth/login",
                {"email": seeded.admin_email, "password": seeded.password},
            )["access_token"]
            user_token = _http_json(
                "POST",
                f"{api.base}/api/v1/auth/login",
                {"email": seeded.user_email, "password": seeded.password},
            )["access_token"]
            c, s, rounds = args.connections, args.seconds, args.rounds
            auth = {"Authorization": f"Bearer {user_token}"}
            admin = {"Authorization": f"Bearer {admin_token}"}

            print("bare vs /users/me (cache hit) ...", flush=True)
            _http_json("GET", f"{api.base}/api/v1/users/me", token=user_token)  # warm the cache
            me = interleave(
                ("bare", {"url": f"{bare.base}/ok", "connections": c, "seconds": s}),
                (
                    "me",
                    {
                        "url": f"{api.base}/api/v1/users/me",
                        "connections": c,
                        "seconds": s,
                        "headers": auth,
                    },
                ),
                ("bare_silent", {"url": f"{bare_silent.base}/ok", "connections": c, "seconds": s}),
                rounds=rounds,
            )
            deep_cursor = seeded.deep_cursor
            deep = _http_json(
                "GET", f"{api.base}/api/v1/users?limit=50&cursor={deep_cursor}", token=admin_token
            )
            assert deep["items"][0]["email"] == seeded.deep_first_email, "deep cursor is off"
            bare_deep = _http_json("GET", f"{bare.base}/users?limit=50&cursor={deep_cursor}")
            assert bare_deep["items"][0]["email"] == seeded.deep_first_email, "bare deep is off"

            def page_sides(suffix: str) -> list[Side]:
                def side(name: str, url: str, headers: dict[str, str] | None = None) -> Side:
                    options: dict[str, Any] = {
                        "url": url,
                        "connections": args.page_connections,
                        "seconds": args.page_seconds,
                    }
                    if headers:
                        options["headers"] = headers
                    return f"{name}{suffix}", options

                return [
                    side("bare_first_page", f"{bare.base}/users?limit=50"),
                    side("first_page", f"{api.base}/api/v1/users?limit=50", admin),
                    side("bare_deep_page", f"{bare.base}/users?limit=50&cursor={deep_cursor}"),
                    side(
                        "deep_page", f"{api.base}/api/v1/users?limit=50&cursor={deep_cursor}", admin
                    ),
                ]

            print(f"/users first and deep page vs bare, {args.users} users ...", flush=True)
            pages = interleave(*page_sides(""), rounds=rounds)

            ids = seeded.ids
            if args.large_users > args.users:
                print(f"adding {args.large_users - args.users} older users ...", flush=True)
                started = time.monotonic()
                ids = ids + asyncio.run(
                    seed_older_users(env, seeded, args.large_users - args.users)
                )
                results["seed_large_seconds"] = time.monotonic() - started
                print(
                    f"/users first and deep page vs bare, {args.large_users} users ...", flush=True
                )
                pages |= interleave(*page_sides("_large"), rounds=rounds)

            # Every id once per round at most (the cache is dropped before each round): misses only.
            miss = write_miss_script(ids, RESULTS / f"{run}-miss.lua")
            bare_miss = write_miss_script(ids, RESULTS / f"{run}-bare-miss.lua", "/users/")
            print("/users/{id} miss vs bare find_one, and hit ...", flush=True)
            by_id = interleave(
                (
                    "bare_find_one",
                    {
                        "url": f"{bare.base}/users/",
                        "connections": c,
                        "seconds": s,
                        "script": bare_miss,
                    },
                ),
                (
                    "id_miss",
                    {
                        "url": f"{api.base}/api/v1/users/",
                        "connections": c,
                        "seconds": s,
                        "headers": admin,
                        "script": miss,
                    },
                ),
                rounds=rounds,
                before_first=lambda: drop_cache(env["REDIS_URL"], env["REDIS_KEY_PREFIX"]),
            )
            by_id |= interleave(
                (
                    "id_hit",
                    {
                        "url": f"{api.base}/api/v1/users/{seeded.user_id}",
                        "connections": c,
                        "seconds": s,
                        "headers": admin,
                    },
                ),
                rounds=rounds,
            )
            # Fewer connections than the lock-out's limit: each sign-in in flight counts as an
            # attempt until its password is accepted, and one past the limit is refused (the
            # atomic lock-out, docs/security.md). A pause between rounds lets the sign-ins a
            # round's end left in flight finish before the next round opens its connections.
            login = []
            for _ in range(rounds):
                time.sleep(1)
                login.append(
                    wrk(
                        f"{api.base}/api/v1/auth/login",
                        connections=LOGIN_CONNECTIONS,
                        seconds=s,
                        method="POST",
                        body=json.dumps({"email": seeded.user_email, "password": seeded.password}),
                    )
                )
            results["forgot_password"] = forgot_medians(api.base, seeded.user_email)
            peak_rss = api.peak_rss_mb()
    finally:
        try:
            drop_database(env["MONGODB_URL"], database)
        finally:
            resources.close()

    scenarios = {**me, **by_id, **pages, "login": login}
    results["scenarios"] = {name: summary(runs) for name, runs in scenarios.items()}
    sc = results["scenarios"]
    ratios = {
        "me_vs_bare_throughput": sc["me"]["rps"] / sc["bare"]["rps"],
        # Against the bare endpoint writing no log line at all (stricter than the target's).
        "me_vs_silent_bare_throughput": sc["me"]["rps"] / sc["bare_silent"]["rps"],
        "id_miss_vs_bare_find_one_throughput": sc["id_miss"]["rps"] / sc["bare_find_one"]["rps"],
        **{
            f"{page}_vs_bare_latency{suffix}": sc[f"{page}{suffix}"]["p50_ms"]
            / sc[f"bare_{page}{suffix}"]["p50_ms"]
            for page in ("first_page", "deep_page")
            for suffix in ("", "_large")
            if f"{page}{suffix}" in sc
        },
        # Measures the local server's scan more than the service (reported, no target).
        "deep_vs_first_page_latency": sc["deep_page"]["p50_ms"] / sc["first_page"]["p50_ms"],
        "p99_vs_p50_at_64": sc["me"]["p99_ms"] / sc["me"]["p50_ms"],
        "api_peak_rss_mb": peak_rss,
        "id_hit_vs_miss_throughput": sc["id_hit"]["rps"] / sc["id_miss"]["rps"],
    }
    results["ratios"] = ratios
    out = RESULTS / f"{run}.json"
    out.write_text(json.dumps(results, indent=2))

    print(f"\n{'scenario':<22} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, row in sc.items():
        print(
            f"{name:<22} {row['rps']:>10.0f} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} "
            f"{row['errors']:>7}"
        )
    print()
    failed = False
    for name, value in ratios.items():
        target = TARGETS.get(name)
        verdict = ""
        if target:
            op, bound = target
            ok = value >= bound if op == ">=" else value <= bound if op == "<=" else value < bound
            failed |= not ok
            verdict = f"target {op} {bound}: {'ok' if ok else 'MISSED'}"
        print(f"{name:<36} {value:>8.2f}  {verdict}")
    print(f"{report(results['forgot_password'])}\nresults: {out.relative_to(ROOT)}")
    if args.telemetry:
        # Its own APIs (one per column: instrumentation is per process) on the shared stack.
        print("\ntelemetry off, at the default ratio and at 100 % ...", flush=True)
        telemetry = [
            sys.executable,
            str(ROOT / "bench" / "telemetry_cost.py"),
            f"--rounds={args.rounds}",
            f"--seconds={args.seconds}",
            f"--users={min(args.users, 5_000)}",
        ]
        failed |= subprocess.run(telemetry, cwd=ROOT, check=False).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
