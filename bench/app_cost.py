"""The API's own cost per request, without a server or a network: `python bench/app_cost.py`.

Calls the ASGI app in-process (production settings, the local stack's Redis and FerretDB) and
prints microseconds per request, the best of five batches, for the bare endpoint, the app's
no-I/O `/healthz/live` and the cached `GET /api/v1/users/me`. Steadier than wrk on a shared
machine, so it is how single changes were compared (docs/performance.md); the server's own share
(HTTP parsing, socket writes) is not in these numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import secrets
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts import stack  # noqa: E402

ASGIApp = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[MutableMapping[str, Any]]],
        Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ],
    Awaitable[None],
]
Headers = list[tuple[bytes, bytes]]


async def call(app: ASGIApp, method: str, path: str, headers: Headers, body: bytes = b"") -> Any:
    """One request through the app; returns (status, body)."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    received = False
    answer: dict[str, Any] = {"status": 0, "body": b""}

    async def receive() -> MutableMapping[str, Any]:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError("unreachable")

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return answer["status"], answer["body"]


async def per_request(app: ASGIApp, path: str, headers: Headers, count: int) -> float:
    status, body = await call(app, "GET", path, headers)
    if status != 200:
        raise RuntimeError(f"GET {path}: {status} {body[:200]!r}")
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(count):
            await call(app, "GET", path, headers)
        best = min(best, (time.perf_counter() - started) / count)
    return best * 1e6


async def measure(count: int) -> dict[str, float]:
    from bench.bare_app import app as bare
    from service.app.container import build_container
    from service.app.server import create_app
    from service.app.users.container import UsersContainer

    container = build_container()
    app = create_app(container=container)
    async with app.router.lifespan_context(app):
        await container.provided(UsersContainer.auth_near_cache).wait_live()
        email, password = f"cost-{secrets.token_hex(4)}@example.com", "Correct-Horse-9-battery"
        json_body = [(b"content-type", b"application/json")]
        account = {"email": email, "password": password, "full_name": "Cost"}
        await call(app, "POST", "/api/v1/auth/register", json_body, json.dumps(account).encode())
        login = json.dumps({"email": email, "password": password}).encode()
        _, tokens = await call(app, "POST", "/api/v1/auth/login", json_body, login)
        bearer = [(b"authorization", b"Bearer " + json.loads(tokens)["access_token"].encode())]
        return {
            "bare /ok": await per_request(bare, "/ok", [], count),
            "/healthz/live": await per_request(app, "/healthz/live", [], count),
            "/api/v1/users/me": await per_request(app, "/api/v1/users/me", bearer, count),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=3000, help="requests per batch")
    args = parser.parse_args()
    os.environ.update(
        {
            **stack.up(),
            "APP_ENV": "prod",
            "MONGODB_DB": f"cost_{secrets.token_hex(4)}",
            "REDIS_KEY_PREFIX": f"cost:{secrets.token_hex(4)}",
            "JWT_SECRET_KEY": secrets.token_urlsafe(48),
            "LOG_LEVEL": "INFO",
        }
    )
    # The access log is written as in production, to a buffer instead of the terminal.
    stdout, sys.stdout = sys.stdout, io.StringIO()
    from service.core.logging import configure_logging

    configure_logging("INFO")
    import uvloop

    try:
        costs = uvloop.run(measure(args.count))
    finally:
        sys.stdout = stdout
    for name, micros in costs.items():
        print(f"{name:<20} {micros:8.1f} us per request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
