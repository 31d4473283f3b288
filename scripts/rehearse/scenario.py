"""The scenario every environment must pass: api, worker, beat and a one-off task, each checked by
what it does.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from typing import Any, Final

from scripts import stack
from scripts.rehearse.definitions import deploy_runs, target_group_check
from scripts.rehearse.health import wait_healthy, wait_target_healthy
from scripts.rehearse.rehearsal import Rehearsal
from scripts.rehearse.reporting import RehearsalError, say
from scripts.rehearse.task import Task
from scripts.rehearse.telemetry_checks import check_exports, check_trace

# The schedule entry whose two ticks the rehearsal waits for, and the setting of its interval.
BEAT_TICK_ENTRY: Final = "files.expire-pending-uploads"
BEAT_TICK_SETTING: Final = "FILES_EXPIRE_SWEEP_INTERVAL_SECONDS"
BEAT_TICK_TASK: Final = "files.expire_pending_uploads"


def run_scenario(rehearsal: Rehearsal) -> None:
    """The green path: the migrate task, api healthy, a registration the worker mails, beat
    ticking alone, the after-roll migrate task, a one-off task, then every task stopped by
    SIGTERM."""
    env = rehearsal.assembly.env
    say(f"== {env}: {', '.join(sorted(rehearsal.definitions))}")
    api_def = rehearsal.definitions["api"]
    # As the deploy does (infra/migrations.py): the migrations before any service; the api
    # builds no index and is not ready without them. Its order is read from the assembly.
    before = deploy_runs(rehearsal.assembly, after_services=False)
    after_roll = deploy_runs(rehearsal.assembly, after_services=True)
    if not any(run.container == "migrate" and run.command is None for run in before):
        raise RehearsalError("the deploy does not run migrate before the services")
    rehearsal.one_off("migrate", None, expect="migrations applied")
    api = rehearsal.start("api")
    check = api_def.health_check
    if check is None:
        raise RehearsalError("the api definition has no health check")
    runs = wait_healthy(api, check, rehearsal.options.health_interval)
    say(f"api: HEALTHY (the definition's health check passed on run {runs}); {api.confinement()}")
    port = api_def.port or 8000
    wait_target_healthy(
        api, port, target_group_check(rehearsal.assembly), rehearsal.options.health_interval
    )

    worker = rehearsal.start("worker")
    wait_log(worker, " ready.", 90)
    email = f"rehearsal-{uuid.uuid4().hex[:8]}@example.com"
    # A sampled W3C parent, as an instrumented client sends: the api continues it whatever
    # its TELEMETRY_SAMPLE_RATIO, so the trace id is known and the trace is kept.
    trace_id = uuid.uuid4().hex
    registered = http_json(
        f"http://{api.address}:{port}/api/v1/auth/register",
        {"email": email, "password": "Rehearsal-pw-1234!", "full_name": "Rehearsal"},
        headers={"traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"},
    )
    say(f"api: registered {email} (201, id {registered.get('id')}, trace {trace_id})")
    wait_log(worker, "mail.send_email", 60)
    wait_log_regex(
        worker, r"mail\.send_email\[[^\]]+\] succeeded|Task mail\.send_email.*succeeded", 60
    )
    say(
        "worker: consumed the verification mail task (mail.send_email succeeded); "
        f"{worker.confinement()}"
    )
    telemetry = check_trace(rehearsal, trace_id, ("api", "worker"))

    interval = str(rehearsal.options.beat_interval)
    beat = rehearsal.start("beat", extra_env={BEAT_TICK_SETTING: interval})
    say(f"beat: {BEAT_TICK_SETTING}={interval} (rehearsal override of a schedule interval)")
    due = re.escape(f"Sending due task {BEAT_TICK_ENTRY}")
    wait_log_regex(beat, f"(?s){due}.*{due}", 60 + 3 * rehearsal.options.beat_interval)
    say(f"beat: two ticks of its schedule sent ({BEAT_TICK_ENTRY} twice); {beat.confinement()}")
    second = rehearsal.start("beat", label="beat-2")
    code = second.wait(90)
    if code == 0:
        raise RehearsalError(f"a second beat started and exited 0:\n{stack.tail(second.log_path)}")
    if "refusing to start a second one" not in second.log():
        raise RehearsalError(
            f"the second beat failed for another reason:\n{stack.tail(second.log_path, 30)}"
        )
    say(f"beat-2: refused to start (exit {code}): another beat holds the lock")
    if not beat.running():
        raise RehearsalError("the first beat stopped")
    # api, worker and beat of this release serve: the deploy's runs after the roll (migrate
    # --after-roll: what the previous release wrote meanwhile), with their command overrides.
    if not after_roll:
        raise RehearsalError("the deploy runs nothing after the services roll")
    for run in after_roll:
        rehearsal.one_off(run.container, run.command, expect="converged after the roll")
    rehearsal.one_off(
        "api",
        ["python", "service/main.py", "--env", env, "create-admin", "--email", email],
        expect=f"admin ensured: {email}",
    )
    for task in (beat, worker, api):
        stopped = task.stop()
        say(f"{task.name}: stopped by SIGTERM (exit {stopped})")
        if stopped not in (0, None):
            raise RehearsalError(
                f"{task.name} exited {stopped} on SIGTERM:\n{stack.tail(task.log_path)}"
            )
    if telemetry:
        check_exports(rehearsal, api, beat_task=f"run/{BEAT_TICK_TASK}")
    say(f"== {env}: green")


def wait_log(task: Task, text: str, within: float) -> None:
    wait_log_regex(task, re.escape(text), within)


def wait_log_regex(task: Task, pattern: str, within: float) -> None:
    deadline = time.monotonic() + within
    regex = re.compile(pattern)
    while not regex.search(task.log()):
        if not task.running():
            raise RehearsalError(
                f"{task.name} exited (code {task.returncode}):\n{stack.tail(task.log_path, 40)}"
            )
        if time.monotonic() > deadline:
            raise RehearsalError(
                f"{task.name}: no /{pattern}/ in its log within {within:.0f}s:\n"
                + stack.tail(task.log_path, 40)
            )
        time.sleep(0.2)


def http_json(
    url: str, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            if response.status != 201:
                raise RehearsalError(f"POST {url}: {response.status}")
            data: dict[str, Any] = json.load(response)
            return data
    except urllib.error.HTTPError as error:
        raise RehearsalError(f"POST {url}: {error.code} {error.read()[:500]!r}") from error
