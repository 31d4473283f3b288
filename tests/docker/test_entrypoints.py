"""The image's entry points, run on this machine as the containers would run them.

No image can be built here, so each test takes the command and the environment the container
would get (the Dockerfile's CMD, ENV and HEALTHCHECK; the compose services' commands,
environment and health checks), maps the image's paths onto the checkout, points the URLs at
the local stack, and runs it: the API answers /healthz/ready, the worker consumes a task, beat
starts and writes its schedule, s3-init creates its bucket, and every health check passes.
"""

from __future__ import annotations

import glob
import json
import os
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from scripts.stack import ManagedProcess, free_port, tail
from service.core.config import Settings
from tests.docker.images import (
    command,
    default_command,
    environment,
    healthcheck_command,
    interpolate,
    runtime_stage,
    services,
)
from tests.service.core.celery_task.conftest import module_settings, producer
from tests.service.core.celery_task.processes import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

IMAGE_PATHS = {"/opt/venv": sys.prefix, "/app": str(Path(__file__).resolve().parents[2])}
ROOT = Path(IMAGE_PATHS["/app"])


def on_this_machine(value: str) -> str:
    for image_path, local_path in IMAGE_PATHS.items():
        value = value.replace(image_path, local_path)
    return value


def container_env(
    service: str, settings: Settings, stack_env: dict[str, str], **extra: str
) -> dict[str, str]:
    """The Dockerfile's ENV, then the compose service's environment, aimed at the local stack."""
    env: dict[str, str] = {}
    for key, value in runtime_stage().env().items():
        env[key] = on_this_machine(value.replace("$PATH", os.environ["PATH"]))
    env.update({k: interpolate(v) for k, v in environment(services()[service]).items()})
    env.update(
        {
            "MONGODB_URL": settings.mongodb_url,
            "MONGODB_DB": settings.mongodb_db,
            "REDIS_URL": settings.redis_url,
            "REDIS_KEY_PREFIX": settings.redis_key_prefix,
            "S3_ENDPOINT_URL": stack_env["S3_ENDPOINT_URL"],
            "S3_BUCKET": stack_env["S3_BUCKET"],
        }
    )
    env.update(extra)
    return env


def run_check(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A compose/Dockerfile health check: CMD runs the words, CMD-SHELL runs them with sh."""
    argv = [interpolate(word) for word in argv]  # compose's `$$` is a literal `$`
    if argv[0] == "CMD-SHELL":
        argv = ["/bin/sh", "-c", " ".join(argv[1:])]
    elif argv[0] == "CMD":
        argv = argv[1:]
    return subprocess.run(
        argv, env={**os.environ, **env}, cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def log_says(path: Path, text: str) -> bool:
    return path.exists() and text in path.read_text(errors="replace")


@pytest.fixture(scope="module")
def docker_settings(stack_env: dict[str, str], run_id: str) -> Iterator[Settings]:
    """Its own Redis prefix and database (dropped afterwards with the prefix's keys)."""
    settings = module_settings(stack_env, run_id, "docker")
    with producer(settings):
        yield settings


def start(
    name: str, argv: list[str], env: dict[str, str], log: Path, ready: str | None = None
) -> ManagedProcess:
    """Start `argv` in its own session; ready when the API answers or its log says `ready`."""
    port = int(env.get("PORT", free_port()))

    def probe(_: int) -> bool:
        if ready is not None:
            return log_says(log, ready)
        try:
            live = f"http://127.0.0.1:{port}/healthz/live"
            with urllib.request.urlopen(live, timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    process = ManagedProcess(name, argv, port, "", probe, log, cwd=ROOT, env=env, ready_timeout=90)
    return process.start()


def test_the_default_command_serves_the_api_and_its_healthcheck_passes(
    docker_settings: Settings, stack_env: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    # Compose's one-shot migrate service first, as every deploy does: the API builds no index.
    migrate_env = container_env("migrate", docker_settings, stack_env)
    migrated = subprocess.run(
        command(services()["migrate"]),
        env={**os.environ, **migrate_env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    # On this machine the API listens on loopback only; in the container HOST is 0.0.0.0.
    env = container_env("api", docker_settings, stack_env, HOST="127.0.0.1", PORT=str(port))
    api = start("api", default_command(), env, tmp_path / "api.log")
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/healthz/ready", timeout=10
        ) as response:
            assert response.status == 200
            assert json.load(response)["checks"] == {
                "mongodb": "ok",
                "redis": "ok",
                "indexes": "ok",
            }
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/docs", timeout=10) as docs:
            assert docs.status == 200
        check = run_check(healthcheck_command(), {"PORT": str(port)})
        assert check.returncode == 0, check.stderr
    finally:
        api.stop()
    # With the API gone the same health check fails: it really probes the server.
    assert run_check(healthcheck_command(), {"PORT": str(port)}).returncode != 0


def test_the_worker_command_consumes_a_task_and_answers_its_healthcheck(
    docker_settings: Settings, stack_env: dict[str, str], tmp_path: Path
) -> None:
    hostname = socket.gethostname()
    env = container_env("worker", docker_settings, stack_env, HOSTNAME=hostname)
    log = tmp_path / "worker.log"
    worker = start("worker", command(services()["worker"]), env, log, ready=" ready.")
    try:
        check = run_check(services()["worker"]["healthcheck"]["test"], env)
        assert check.returncode == 0, check.stdout + check.stderr

        with producer(docker_settings) as app:
            result = app.send_task("ops.probe", args=[f"docker-{uuid.uuid4().hex[:8]}"])
            assert result.get(timeout=60) == "done", tail(log)
    finally:
        worker.stop(timeout=30)
    # The broker's key prefix covers the control channel too: no other worker answers for it.
    assert run_check(services()["worker"]["healthcheck"]["test"], env).returncode != 0


def test_the_beat_command_starts_and_writes_its_schedule(
    docker_settings: Settings, stack_env: dict[str, str], tmp_path: Path
) -> None:
    schedule = tmp_path / "celerybeat-schedule"
    env = container_env("beat", docker_settings, stack_env, CELERY_BEAT_SCHEDULE_FILE=str(schedule))
    log = tmp_path / "beat.log"
    beat = start("beat", command(services()["beat"]), env, log, ready="beat: Starting")
    try:
        wait_for(lambda: glob.glob(f"{schedule}*"), within=60, what="the beat schedule file")
        wait_for(lambda: Path(f"{schedule}.alive").exists(), within=60, what="beat's heartbeat")
        check = run_check(services()["beat"]["healthcheck"]["test"], env)
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        beat.stop(timeout=30)


def test_s3_init_creates_the_bucket_and_can_run_again(
    docker_settings: Settings, stack_env: dict[str, str], run_id: str, tmp_path: Path
) -> None:
    bucket = f"test-{run_id}-docker"
    env = container_env("s3-init", docker_settings, stack_env, S3_BUCKET=bucket)
    s3 = boto3.client("s3", endpoint_url=stack_env["S3_ENDPOINT_URL"], region_name="us-east-1")
    try:
        for _ in range(2):  # every `docker compose up` runs it again
            done = subprocess.run(
                command(services()["s3-init"]),
                env={**os.environ, **env},
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            s3.head_bucket(Bucket=bucket)
    finally:
        s3.delete_bucket(Bucket=bucket)
