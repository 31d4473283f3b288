"""The shared stack of the checkout (.stack/): `up`, `down`, `status` and the environment it gives
the app and the tests.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

from scripts.stack.buckets import apply_uploads_cors, create_bucket, local_web_origins
from scripts.stack.messages import StackError, indent, note, tail
from scripts.stack.probes import probe_mongodb, probe_redis, probe_s3
from scripts.stack.processes import ManagedProcess, command_line, file_lock, pid_alive, signal_group
from scripts.stack.servers import start_mongo_server, start_moto, start_redis
from scripts.stack.settings import (
    DEFAULT_BUCKET,
    DEFAULT_REGION,
    DUMMY_AWS_CREDENTIAL,
    ENV_FILE,
    HOST,
    LOG_DIR,
    MONGODB_PORT,
    MOTO_PORT,
    REDIS_PORT,
    SERVICE_URL_VARS,
    SERVICES,
    STACK_DIR,
)


def bucket_name(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get("S3_BUCKET") or DEFAULT_BUCKET


def stack_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment the app and the tests use: given URLs, else the local stack's."""
    env = os.environ if environ is None else environ
    return {
        "REDIS_URL": env.get("REDIS_URL") or f"redis://{HOST}:{REDIS_PORT}/0",
        "MONGODB_URL": env.get("MONGODB_URL") or f"mongodb://{HOST}:{MONGODB_PORT}/",
        "S3_ENDPOINT_URL": env.get("S3_ENDPOINT_URL") or f"http://{HOST}:{MOTO_PORT}",
        "S3_BUCKET": bucket_name(env),
        "AWS_ACCESS_KEY_ID": env.get("AWS_ACCESS_KEY_ID") or DUMMY_AWS_CREDENTIAL,
        "AWS_SECRET_ACCESS_KEY": env.get("AWS_SECRET_ACCESS_KEY") or DUMMY_AWS_CREDENTIAL,
        "AWS_DEFAULT_REGION": env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
    }


def format_exports(values: Mapping[str, str]) -> str:
    return "".join(f"export {key}={shlex.quote(value)}\n" for key, value in values.items())


def _pid_file(name: str) -> Path:
    return STACK_DIR / f"{name}.pid"


_MARKERS: Final = {"redis": "redis-server", "mongodb": "mongo-java-server", "moto": "moto"}
_PORTS: Final = {"redis": REDIS_PORT, "mongodb": MONGODB_PORT, "moto": MOTO_PORT}
_PROBES: Final[dict[str, Callable[[int], bool]]] = {
    "redis": probe_redis,
    "mongodb": probe_mongodb,
    "moto": probe_s3,
}


def _recorded_pid(name: str) -> int | None:
    """The pid from .stack/<name>.pid if that process is alive and is that service."""
    try:
        pid = int(_pid_file(name).read_text().strip())
    except (OSError, ValueError):
        return None
    if pid <= 0 or not pid_alive(pid):
        return None
    cmdline = command_line(pid)
    if cmdline and _MARKERS[name] not in cmdline:
        return None  # the pid was recycled by an unrelated process
    return pid


def _wait_recorded(name: str, pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not _PROBES[name](_PORTS[name]):
        if not pid_alive(pid):
            raise StackError(
                f"{name} (pid {pid}) died (log: {LOG_DIR / f'{name}.log'}):\n"
                + indent(tail(LOG_DIR / f"{name}.log"))
            )
        if time.monotonic() > deadline:
            raise StackError(
                f"{name} (pid {pid}) runs but does not answer on {HOST}:{_PORTS[name]} "
                f"(log: {LOG_DIR / f'{name}.log'}); try `python -m scripts.stack down` "
                f"then `up`:\n{indent(tail(LOG_DIR / f'{name}.log'))}"
            )
        time.sleep(0.1)


def _ensure(name: str) -> str:
    """Start one shared service unless it runs already; returns what happened."""
    pid = _recorded_pid(name)
    if pid is not None:
        _wait_recorded(name, pid, 30.0)
        if name == "moto":
            create_bucket(f"http://{HOST}:{MOTO_PORT}", bucket_name())
            apply_uploads_cors(f"http://{HOST}:{MOTO_PORT}", bucket_name(), local_web_origins())
        return f"already running (pid {pid})"
    with contextlib.suppress(FileNotFoundError):
        _pid_file(name).unlink()
    log = LOG_DIR / f"{name}.log"
    pid_file = _pid_file(name)
    managed: ManagedProcess
    try:
        if name == "redis":
            managed = start_redis(REDIS_PORT, STACK_DIR, log_path=log, pid_file=pid_file)
        elif name == "mongodb":
            managed = start_mongo_server(
                MONGODB_PORT, STACK_DIR, backend="h2", log_path=log, pid_file=pid_file
            )
        else:
            managed = start_moto(
                MOTO_PORT, STACK_DIR, buckets=[bucket_name()], log_path=log, pid_file=pid_file
            )
    except StackError as exc:
        raise StackError(
            f"{exc}\n(to use a server you already run, set {SERVICE_URL_VARS[name]})"
        ) from exc
    started_pid = managed.pid
    managed.detach()  # it lives on in its own session after this process exits
    return f"started (pid {started_pid}, log {log})"


def up() -> dict[str, str]:
    """Start whatever part of the local stack is not given by URL nor running; idempotent.

    Returns the environment (as `env` prints it) and writes it to .stack/env.
    """
    STACK_DIR.mkdir(parents=True, exist_ok=True)
    with file_lock(STACK_DIR / "lock"):
        for name in SERVICES:
            given = os.environ.get(SERVICE_URL_VARS[name])
            if given:
                note(f"{name}: using {SERVICE_URL_VARS[name]}={given}")
                continue
            started = time.monotonic()
            outcome = _ensure(name)
            note(f"{name}: {outcome} [{time.monotonic() - started:.1f}s]")
        values = stack_env()
        ENV_FILE.write_text(format_exports(values))
    return values


def _stop_pid(name: str, pid: int, timeout: float = 10.0) -> None:
    signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            signal_group(pid, signal.SIGKILL)
            time.sleep(0.2)
            break
        time.sleep(0.05)


def down(wipe: bool = False) -> list[str]:
    """Stop what `up` started (by pid file). With wipe, delete the data and logs too."""
    stopped: list[str] = []
    if not STACK_DIR.exists():
        return stopped
    with file_lock(STACK_DIR / "lock"):
        for name in SERVICES:
            pid = _recorded_pid(name)
            if pid is not None:
                _stop_pid(name, pid)
                stopped.append(name)
                note(f"{name}: stopped (pid {pid})")
            with contextlib.suppress(FileNotFoundError):
                _pid_file(name).unlink()
        with contextlib.suppress(FileNotFoundError):
            ENV_FILE.unlink()
        if wipe:
            for child in STACK_DIR.iterdir():
                if child.name == "lock":
                    continue
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
            note(f"wiped {STACK_DIR}")
    return stopped


def status() -> dict[str, dict[str, object]]:
    """Per service: state (running, not-answering, stopped, external), pid, url."""
    report: dict[str, dict[str, object]] = {}
    values = stack_env()
    for name in SERVICES:
        var = SERVICE_URL_VARS[name]
        if os.environ.get(var):
            report[name] = {"state": "external", "pid": None, "url": values[var]}
            continue
        pid = _recorded_pid(name)
        if pid is None:
            state = "stopped"
        elif _PROBES[name](_PORTS[name]):
            state = "running"
        else:
            state = "not-answering"
        report[name] = {"state": state, "pid": pid, "url": values[var]}
    return report
