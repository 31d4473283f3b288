"""scripts/rehearse/collector.py: the collector sidecar's stand-in receives what the SDK's OTLP
exporters send (no root needed: here it listens on this machine's loopback)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from scripts.rehearse import ROOT, RehearsalError
from scripts.rehearse.collector import receiver_endpoint


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_the_endpoint_is_read_from_the_sidecar_s_configuration() -> None:
    config = '{"receivers": {"otlp": {"protocols": {"http": {"endpoint": "127.0.0.1:4318"}}}}, '
    sidecar = {
        "Name": "otel-collector",
        "Environment": [
            {
                "Name": "AOT_CONFIG_CONTENT",
                "Value": {"Fn::Join": ["", [config + '"log_group": "', {"Ref": "Logs"}, '"}']]},
            }
        ],
    }
    assert receiver_endpoint(sidecar) == ("127.0.0.1", 4318)
    with pytest.raises(RehearsalError, match="no AOT_CONFIG_CONTENT"):
        receiver_endpoint({"Name": "other", "Environment": []})


def test_it_records_the_spans_and_metrics_an_otlp_exporter_sends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
                       "base2_exponential_bucket_histogram")  # fmt: skip
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta")
    port, out = _free_port(), tmp_path / "received.jsonl"
    argv = [sys.executable, "-m", "scripts.rehearse.collector", "--listen", f"127.0.0.1:{port}"]
    with subprocess.Popen(
        [*argv, "--out", str(out)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    ) as receiver:
        try:
            assert receiver.stdout is not None
            assert receiver.stdout.readline().startswith("listening")
            resource = Resource.create({"service.name": "biwoco-test-api"})
            tracer = TracerProvider(resource=resource)
            tracer.add_span_processor(
                SimpleSpanProcessor(OTLPSpanExporter(f"http://127.0.0.1:{port}/v1/traces"))
            )
            spans = tracer.get_tracer("t")
            with (
                spans.start_as_current_span("GET /x") as parent,
                spans.start_as_current_span("child"),
            ):
                pass
            meters = MeterProvider(
                resource=resource,
                metric_readers=[
                    PeriodicExportingMetricReader(
                        OTLPMetricExporter(f"http://127.0.0.1:{port}/v1/metrics")
                    )
                ],
            )
            meters.get_meter("m").create_histogram("http.server.request.duration").record(0.2)
            meters.shutdown()
            tracer.shutdown()
            deadline = time.monotonic() + 10
            while out.read_text().count("\n") < 3 and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            receiver.terminate()
    records = [json.loads(line) for line in out.read_text().splitlines()]
    received = {r["name"]: r for r in records if r["signal"] == "span"}
    trace_id = f"{parent.get_span_context().trace_id:032x}"
    assert received["child"]["trace_id"] == received["GET /x"]["trace_id"] == trace_id
    assert received["child"]["parent_span_id"] == received["GET /x"]["span_id"]
    assert received["GET /x"]["service"] == "biwoco-test-api"
    assert [r for r in records if r["signal"] == "metric"] == [
        {
            "signal": "metric",
            "service": "biwoco-test-api",
            "name": "http.server.request.duration",
            "type": "exponential_histogram",
            "temporality": "AGGREGATION_TEMPORALITY_DELTA",
        }
    ]
