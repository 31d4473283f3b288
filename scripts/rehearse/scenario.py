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
from scripts.rehearse import metric_filter
from scripts.rehearse.definitions import deploy_runs, target_group_check
from scripts.rehearse.health import wait_healthy, wait_target_healthy
from scripts.rehearse.rehearsal import Rehearsal
from scripts.rehearse.reporting import RehearsalError, say
from scripts.rehearse.task import Task

# The schedule entry whose two ticks the rehearsal waits for, and the setting of its interval.
BEAT_TICK_ENTRY: Final = "files.expire-pending-uploads"
BEAT_TICK_SETTING: Final = "FILES_EXPIRE_SWEEP_INTERVAL_SECONDS"


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
        check_request_metrics(rehearsal, api)
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


def check_trace(rehearsal: Rehearsal, trace_id: str, labels: tuple[str, str]) -> bool:
    """The request's trace reached the api's and the worker's collector stand-ins, the worker's
    run a child of a span the api sent. False when the definitions have no collector."""
    if not all(label in rehearsal.collectors for label in labels):
        say("telemetry: no collector sidecar in the api and worker definitions; not checked")
        return False
    api, worker = (rehearsal.collectors[label] for label in labels)
    deadline = time.monotonic() + 45
    while True:
        api_spans = [s for s in api.records("span") if s["trace_id"] == trace_id]
        worker_spans = [s for s in worker.records("span") if s["trace_id"] == trace_id]
        # The task the api published runs in the worker as a child of the api's publication
        # (the mail is sent by a task that task enqueues, deeper in the same trace); spans
        # arrive in batches, in no particular order.
        by_id = {s["span_id"]: s for s in api_spans}
        handed = [
            (s, by_id[s["parent_span_id"]])
            for s in worker_spans
            if s["name"].startswith("run/") and s["parent_span_id"] in by_id
        ]
        mailed = any(s["name"] == "run/mail.send_email" for s in worker_spans)
        if "POST /api/v1/auth/register" in {s["name"] for s in api_spans} and handed and mailed:
            break
        if time.monotonic() > deadline:
            sent = [sorted(s["name"] for s in spans) for spans in (api_spans, worker_spans)]
            raise RehearsalError(
                f"telemetry: trace {trace_id} incomplete at the collector stand-ins (wanted the "
                "api's register, a worker run child of an api span, the mail's run): api sent "
                f"{sent[0]}, worker {sent[1]} (all received: {api.received}, {worker.received})"
            )
        time.sleep(0.5)
    services = {s["service"] for s in api_spans} | {s["service"] for s in worker_spans}
    run, parent = handed[0]
    say(
        f"telemetry: trace {trace_id} at the collector stand-ins: the api sent "
        f"{len(api_spans)} spans (POST /api/v1/auth/register), the worker {len(worker_spans)} "
        f"({run['name']}, child of the api's {parent['name']}; run/mail.send_email); services "
        f"{', '.join(sorted(services))}"
    )
    return True


# The API's request metric (infra/request_metrics.py).
HTTP_DURATION: Final = "http.server.request.duration"


def check_request_metrics(rehearsal: Rehearsal, api: Task) -> None:
    """The metrics as CloudWatch would get them, once the tasks stopped (and flushed).

    - Through the collector: the worker's task durations as its EMF exporter needs them for
      percentiles, exponential histograms of delta temporality (the definition's
      OTEL_EXPORTER_OTLP_METRICS_* settings).
    - From the api's access lines: the metric filters on the log group its container writes to
      (infra/request_metrics.py), run on every line the api wrote (scripts/rehearse/
      metric_filter.py): each access line publishes its request's duration.
    """
    metrics = [
        m
        for m in rehearsal.collectors["worker"].records("metric")
        if m["name"] == "messaging.process.duration"
    ]
    kinds = {(m["type"], m["temporality"]) for m in metrics}
    if kinds != {("exponential_histogram", "AGGREGATION_TEMPORALITY_DELTA")}:
        raise RehearsalError(
            f"telemetry: the worker's messaging.process.duration arrived as {kinds}"
        )
    say(
        "telemetry: the worker's messaging.process.duration reached its collector stand-in as a "
        "delta exponential histogram"
    )
    log_group = rehearsal.definitions["api"].raw["LogConfiguration"]["Options"]["awslogs-group"]
    filters = [
        resource["Properties"]
        for _, _, resource in rehearsal.assembly.find("AWS::Logs::MetricFilter")
        if resource["Properties"]["LogGroupName"] == log_group
    ]
    if not filters:
        raise RehearsalError("telemetry: no metric filter on the api's log group")
    access_lines = 0
    for line in api.log().splitlines():
        try:
            published = [d for props in filters for d in metric_filter.publish(props, line)]
        except metric_filter.FilterError as error:
            raise RehearsalError(f"telemetry: {error}") from None
        if '"logger": "biwoco.access"' in line:
            access_lines += 1
            if not any(d.name == HTTP_DURATION and "http.route" in d.dimensions for d in published):
                raise RehearsalError(f"telemetry: no {HTTP_DURATION} from the access line {line}")
    if not access_lines:
        raise RehearsalError("telemetry: the api wrote no access line")
    say(
        f"telemetry: the metric filters on the api's log group publish {HTTP_DURATION} for each "
        f"of its {access_lines} access lines"
    )
