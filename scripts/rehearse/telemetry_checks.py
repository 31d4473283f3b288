"""The rehearsal's telemetry checks, on what the collector sidecars' stand-ins received and what
the tasks wrote: one trace from the api into the worker, beat's ticks as traces of their own, the
task metrics as the collector's EMF exporter needs them, and the request metric the metric
filters on the api's log group derive from its access lines."""

from __future__ import annotations

import time
from typing import Final

from scripts.rehearse import metric_filter
from scripts.rehearse.rehearsal import Rehearsal
from scripts.rehearse.reporting import RehearsalError, say
from scripts.rehearse.task import Task


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


def check_exports(rehearsal: Rehearsal, api: Task, *, beat_task: str) -> None:
    """Once the tasks stopped (and flushed): beat's ticks, the metrics."""
    check_beat(rehearsal, beat_task)
    check_request_metrics(rehearsal, api)


def check_beat(rehearsal: Rehearsal, run_name: str) -> None:
    """Beat reported the queue depth, and, where every new trace is kept (a sample ratio of 1,
    dev), each tick it sent is a trace of its own: beat's publication its root, the worker's run
    (``run_name``) its child. At a lower ratio a tick may rightly be dropped: not required."""
    beat, worker = rehearsal.collectors["beat"], rehearsal.collectors["worker"]
    if not any(m["name"] == "celery.queue.depth" for m in beat.records("metric")):
        raise RehearsalError("telemetry: beat sent no celery.queue.depth")
    environment = {
        e["Name"]: e["Value"] for e in rehearsal.definitions["beat"].raw.get("Environment") or []
    }
    ratio = float(environment.get("TELEMETRY_SAMPLE_RATIO", "0"))
    roots = [s for s in beat.records("span") if not s["parent_span_id"]]
    runs = {s["parent_span_id"]: s for s in worker.records("span") if s["name"] == run_name}
    ticks = [(root, runs[root["span_id"]]) for root in roots if root["span_id"] in runs]
    if ratio < 1:
        say(
            f"telemetry: beat sent celery.queue.depth; {len(ticks)} of its ticks traced into the "
            f"worker at a sample ratio of {ratio:g} (not required below 1)"
        )
        return
    if not ticks:
        raise RehearsalError(
            f"telemetry: no tick of beat's traced into the worker's {run_name} at a sample "
            f"ratio of 1 (beat's roots: {sorted(r['name'] for r in roots)})"
        )
    root, run = ticks[0]
    if root["trace_id"] != run["trace_id"]:
        raise RehearsalError(f"telemetry: {run_name} is not in its tick's trace")
    say(
        f"telemetry: beat sent celery.queue.depth and {len(ticks)} ticks as traces of their own "
        f"({root['name']} the root, the worker's {run_name} its child)"
    )


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
