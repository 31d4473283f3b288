"""Profile the API's hot cached read: `python bench/profile_me.py [--seconds 6] [--path ...]`.

Serves the API under cProfile (one uvicorn process, production settings), seeds a few users,
drives `GET /api/v1/users/me` (cache hit) with wrk, and prints the functions that cost the most.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pstats
import secrets
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import _http_json, _wait_http, wrk  # noqa: E402
from bench.run import RESULTS  # noqa: E402
from bench.seed import seed_users  # noqa: E402
from scripts import stack  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--no-profile", action="store_true", help="only measure req/s")
    parser.add_argument("--path", default="/api/v1/users/me")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    port = stack.free_port()
    tag = secrets.token_hex(4)
    env = {
        **os.environ,
        **stack.up(),
        "APP_ENV": "prod",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "MONGODB_DB": f"profile_{tag}",
        "REDIS_KEY_PREFIX": f"profile:{tag}",
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
    }
    out = RESULTS / f"profile-{tag}.pstats"
    log = (RESULTS / f"profile-{tag}.log").open("wb")
    profiler = [] if args.no_profile else ["-m", "cProfile", "-o", str(out)]
    process = subprocess.Popen(
        [sys.executable, *profiler, "service/main.py", "--env", "prod"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_http(base + "/healthz/ready")
        seeded = asyncio.run(seed_users(env, 10))
        token = _http_json(
            "POST",
            f"{base}/api/v1/auth/login",
            {"email": seeded.user_email, "password": seeded.password},
        )["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        wrk(f"{base}{args.path}", connections=args.connections, seconds=1, headers=headers)
        result = wrk(
            f"{base}{args.path}",
            connections=args.connections,
            seconds=args.seconds,
            headers=headers,
        )
        print(
            f"{result['rps']:.0f} req/s, p50 {result['p50_us'] / 1000:.2f} ms, "
            f"p99 {result['p99_us'] / 1000:.2f} ms, "
            f"errors {result['errors']}"
        )
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(30)
    if args.no_profile:
        return 0
    stats = pstats.Stats(str(out))
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
