"""Real Celery worker and beat processes for the tests, and an SMTP server on loopback.

`celery -A service.app.worker worker|beat` runs as a subprocess in its own process group
(so a test can SIGKILL the worker and its pool children at once), configured through the
environment like the container, with its own Redis key prefix and MongoDB database.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any, TypeVar

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from service.core.config import Settings

CELERY = str(Path(sys.executable).with_name("celery"))
T = TypeVar("T")


def wait_for(
    condition: Callable[[], T], *, within: float = 60.0, interval: float = 0.1, what: str = ""
) -> T:
    """Poll until `condition()` is truthy; its value. Fails after a generous deadline."""
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(interval)


async def async_wait_for(
    condition: Callable[[], T], *, within: float = 60.0, interval: float = 0.1, what: str = ""
) -> T:
    return await asyncio.to_thread(wait_for, condition, within=within, interval=interval, what=what)


def celery_env(settings: Settings, **overrides: object) -> dict[str, str]:
    """The worker's environment: the test's settings (URLs, prefix, database) plus overrides."""
    env = dict(os.environ)
    env.update(
        {
            "APP_ENV": "test",
            "REDIS_URL": settings.redis_url,
            "REDIS_KEY_PREFIX": settings.redis_key_prefix,
            "MONGODB_URL": settings.mongodb_url,
            "MONGODB_DB": settings.mongodb_db,
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.pop("SENTRY_DSN", None)
    env.update({key.upper(): str(value) for key, value in overrides.items()})
    return env


class CeleryProcess:
    def __init__(self, kind: str, env: dict[str, str], log_path: Path, *args: str) -> None:
        self.kind = kind
        self.env = env
        self.log_path = log_path
        self.args = args
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> CeleryProcess:
        command = [CELERY, "-A", "service.app.worker", self.kind, "--loglevel=INFO"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, *self.args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill -9 reaches the pool too
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def records(self) -> list[dict[str, Any]]:
        """The JSON log lines (the worker logs like the API)."""
        records = []
        for line in self.text().splitlines():
            if line.startswith("{"):
                with suppress(ValueError):
                    records.append(json.loads(line))
        return records

    def metric_readings(self, metric: str, dimensions: dict[str, str]) -> list[float]:
        """The values of one metric (with exactly these dimensions) this process published."""
        return [
            float(record["value"])
            for record in self.records()
            if record.get("metric") == metric and record.get("dimensions") == dimensions
        ]

    def wait_ready(self, timeout: float = 60.0) -> CeleryProcess:
        marker = "ready." if self.kind == "worker" else "beat lock acquired"

        def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"celery {self.kind} exited:\n{self.text()[-4000:]}")
            return marker in self.text()

        wait_for(ready, within=timeout, what=f"celery {self.kind} to start")
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=30)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (warm shutdown), then SIGKILL if it does not exit."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        # Pool children outlive nothing: make sure the group is gone.
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        return self.process.returncode


@contextmanager
def celery_worker(
    env: dict[str, str], log_path: Path, *args: str, concurrency: int = 2
) -> Iterator[CeleryProcess]:
    worker = CeleryProcess(
        "worker",
        env,
        log_path,
        f"--concurrency={concurrency}",
        "--without-mingle",
        "--without-gossip",
        *args,
    )
    try:
        yield worker.start().wait_ready()
    finally:
        worker.stop()


@contextmanager
def celery_beat(env: dict[str, str], log_path: Path, schedule: Path) -> Iterator[CeleryProcess]:
    beat = CeleryProcess("beat", env, log_path, f"--schedule={schedule}")
    try:
        yield beat.start().wait_ready()
    finally:
        beat.stop()


class RecordingHandler:
    """aiosmtpd handler: records accepted mail; `script[rcpt]` lists answers to its DATA."""

    def __init__(self) -> None:
        self.accepted: list[Message] = []
        self.attempts: dict[str, int] = {}
        self.script: dict[str, list[str]] = {}

    def accepted_for(self, rcpt: str) -> list[Message]:
        return [mail for mail in self.accepted if mail["To"] == rcpt]

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        rcpt = envelope.rcpt_tos[0]
        self.attempts[rcpt] = self.attempts.get(rcpt, 0) + 1
        replies = self.script.get(rcpt)
        if replies:
            return replies.pop(0)
        content = envelope.original_content or envelope.content or b""
        assert isinstance(content, bytes)
        self.accepted.append(message_from_bytes(content))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def smtp_server(handler: RecordingHandler, **kwargs: Any) -> Iterator[Controller]:
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()
