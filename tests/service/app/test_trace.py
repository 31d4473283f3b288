"""One trace from the edge to the worker, read from what the processes exported.

A served API (`service/main.py`, uvicorn) and a real Celery worker, both with telemetry on and
the OTLP JSON file exporter: completing an upload (MongoDB, S3, the enqueue through Redis)
starts `files.process` in the worker (MongoDB, S3); signing up sends `mail.send_email` (Redis
in the worker). Every span both processes wrote for
that request is one trace, whose id is the response's request id, with the route's server span
as its root, the task's run a child of its publication, and each side's database, Redis and S3
calls children of their own side's span. The metrics files carry the route's
`http.server.request.duration` and the task's `messaging.process.duration`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scripts.trace import Span, read_spans, trace_tree
from service.core.config import Settings
from tests.conftest import served_api
from tests.service.app.exported import descendants, metric_points, systems
from tests.service.app.files.adapter.input.api.v1.conftest import login_new_user
from tests.service.app.files.conftest import PDF, post_form
from tests.service.core.celery_task.conftest import module_settings, producer
from tests.service.core.celery_task.processes import celery_env, celery_worker, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

COMPLETE = "POST /api/v1/files/{file_id}/complete"


@pytest.fixture(scope="module")
def traced(
    stack_env: dict[str, str], run_id: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """The API's base URL and the folder both processes export to (their logs beside it)."""
    settings: Settings = module_settings(stack_env, run_id, "trace")
    scratch = tmp_path_factory.mktemp("trace")
    env = celery_env(
        settings,
        s3_endpoint_url=settings.s3_endpoint_url,
        s3_bucket=settings.s3_bucket,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        telemetry_enabled="true",
        telemetry_exporter="file",
        telemetry_file_dir=scratch / "telemetry",
        telemetry_sample_ratio="1.0",
        telemetry_metric_interval_seconds="0.5",
        # The SDK's batch processor: export within a tenth of a second, not five.
        otel_bsp_schedule_delay="100",
    )
    with (
        producer(settings),
        celery_worker(env, scratch / "worker.log", concurrency=1),
        served_api(stack_env, run_id, scratch / "api.log", **env) as base,
    ):
        yield base, scratch / "telemetry"


async def test_a_request_and_the_task_it_sends_are_one_trace(traced: tuple[str, Path]) -> None:
    base, folder = traced
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        me = await login_new_user(http)
        created = await http.post(
            "/api/v1/files",
            json={"filename": "f.pdf", "content_type": "application/pdf", "size": len(PDF)},
            headers=me,
        )
        assert created.status_code == 201, created.text
        body = created.json()
        sent = await post_form(body["upload"]["url"], body["upload"]["fields"], PDF)
        assert sent.status_code == 204
        done = await http.post(f"/api/v1/files/{body['id']}/complete", headers=me)
        assert done.status_code == 200, done.text
    trace_id = done.headers["x-request-id"]
    assert len(trace_id) == 32

    def whole_trace() -> list[Span]:
        roots = trace_tree(read_spans(folder), trace_id)
        everything = [s for root in roots for s in (root, *descendants(root))]
        ran = [s for s in everything if s.name == "run/files.process"]
        # The run's span ends after the task's own calls (and the result store's).
        return roots if ran and systems(descendants(ran[0])) >= {"mongodb", "S3"} else []

    roots = wait_for(whole_trace, what=f"the worker's spans of trace {trace_id}")

    # One root, the route's server span: nothing of this request started a trace of its own.
    [root] = roots
    assert (root.name, root.service, root.kind) == (COMPLETE, "biwoco-api", "server")
    assert root.attributes["http.response.status_code"] == 200
    everything = [root, *descendants(root)]
    assert {span.trace_id for span in everything} == {trace_id}
    assert {span.service for span in everything} == {"biwoco-api", "biwoco-worker"}

    # The API's own calls are children of the route, in the API.
    api_calls = [s for s in root.children if s.service == "biwoco-api"]
    assert systems(api_calls) >= {"mongodb", "S3"}
    # The enqueue (in a thread, off the loop): the broker's calls and the publication.
    [send] = [s for s in root.children if s.name == "send files.process"]
    assert "redis" in systems(send.children)  # the message's LPUSH
    [publish] = [s for s in send.children if s.name == "apply_async/files.process"]
    assert publish.kind == "producer"

    # The worker's run continues the trace under the publication; its calls are its children.
    [run] = [s for s in publish.children if s.name == "run/files.process"]
    assert (run.service, run.kind) == ("biwoco-worker", "consumer")
    worker_calls = descendants(run)
    assert {s.service for s in worker_calls} == {"biwoco-worker"}
    assert systems(worker_calls) >= {"mongodb", "S3"}

    # The registration's mail (the user signed up above): the worker's Redis calls (the outbox,
    # the effect ledger) are children of the mail task's run, in the registration's trace.
    def mail_run() -> Span | None:
        spans = list(read_spans(folder))
        [signup] = [s for s in spans if s.name == "POST /api/v1/auth/register"]
        tree = [s for r in trace_tree(spans, signup.trace_id) for s in (r, *descendants(r))]
        runs = [s for s in tree if s.name == "run/mail.send_email" and s.service == "biwoco-worker"]
        return runs[0] if runs and "redis" in systems(descendants(runs[0])) else None

    mail = wait_for(mail_run, what="the mail task's run in the registration's trace")
    assert mail is not None
    assert {s.service for s in descendants(mail)} == {"biwoco-worker"}

    # Their log lines carry the trace id as the request id: the API's access line, and the
    # worker's lines while it runs the task.
    logs = folder.parent
    lines = [
        json.loads(line)
        for name in ("api.log", "worker.log")
        for line in (logs / name).read_text().splitlines()
        if line.startswith("{")
    ]
    mine = {line["logger"] for line in lines if line.get("request_id") == trace_id}
    assert {"biwoco.access", "celery.app.trace"} <= mine

    # Metrics by route template and by task name, as the semantic conventions name them.
    def measured() -> bool:
        routes = metric_points(folder, "biwoco-api", "http.server.request.duration")
        tasks = metric_points(folder, "biwoco-worker", "messaging.process.duration")
        db = metric_points(folder, "biwoco-worker", "db.client.operation.duration")
        return (
            any(
                p["attributes"].get("http.route") == "/api/v1/files/{file_id}/complete"
                for p in routes
            )
            and any(p["attributes"].get("celery.task.name") == "files.process" for p in tasks)
            # (redis-py's own metric names the system `db.system`, older conventions' key.)
            and {
                p["attributes"].get("db.system.name") or p["attributes"].get("db.system")
                for p in db
            }
            >= {"mongodb", "redis"}
        )

    wait_for(measured, what="the route's, the task's and the clients' metrics", interval=0.5)
