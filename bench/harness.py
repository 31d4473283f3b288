"""The load harness of the benchmarks: servers started and awaited, wrk rounds interleaved
A B A B, their summaries, and small HTTP calls (`bench/run.py`, `bench/profile_me.py`,
`bench/telemetry_cost.py`)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "bench" / "wrk_report.lua"


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def peak_rss_mb(self) -> float:
        """VmHWM: the peak resident set of the process since it started."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM")


def _wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


@contextmanager
def server(
    name: str, argv: Sequence[str], env: dict[str, str], port: int, probe: str, log: Path
) -> Iterator[Server]:
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            _wait_http(f"http://127.0.0.1:{port}{probe}")
            yield Server(name, process, port)
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def wrk(
    url: str,
    *,
    connections: int,
    seconds: int,
    headers: dict[str, str] | None = None,
    method: str | None = None,
    body: str | None = None,
    script: Path = LUA,
) -> dict[str, Any]:
    argv = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
    ]
    for key, value in (headers or {}).items():
        argv += ["-H", f"{key}: {value}"]
    env = dict(os.environ)
    if method:
        env["WRK_METHOD"] = method
    if body:
        env["WRK_BODY"] = body
    output = subprocess.run([*argv, url], capture_output=True, text=True, env=env, check=True)
    line = next(x for x in output.stdout.splitlines() if x.startswith("WRK_JSON "))
    result: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["errors"] = sum(v for k, v in result.items() if k.startswith("errors_"))
    return result


Side = tuple[str, dict[str, Any]]


def interleave(
    *sides: Side, rounds: int, before_first: Callable[[], None] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Rounds A B C A B C ...: every side sees the same drift of the machine."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in sides}
    for _ in range(rounds):
        if before_first:
            before_first()
        for name, options in sides:
            runs[name].append(wrk(**options))
    return runs


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    answered = [r for r in runs if r["requests"] > 0]
    # A round in which nothing completed has no latency: it counts as infinitely slow.
    nan = float("inf")
    return {
        "rps": statistics.mean(r["rps"] for r in runs),
        "p50_ms": statistics.mean(r["p50_us"] for r in answered) / 1000 if answered else nan,
        "p99_ms": statistics.mean(r["p99_us"] for r in answered) / 1000 if answered else nan,
        "errors": sum(r["errors"] for r in runs),
        "requests": sum(r["requests"] for r in runs),
        "rounds": runs,
    }


def _http_json(
    method: str, url: str, body: dict[str, Any] | None = None, token: str | None = None
) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read() or b"null")
