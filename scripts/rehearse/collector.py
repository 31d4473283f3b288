"""The collector sidecar's stand-in: an OTLP/HTTP receiver in the task's network namespace.

A task definition's non-essential sidecar (the ADOT collector, infra/telemetry.py) cannot run
here: its image is not this machine's and there is no container engine. What the app container
needs of it is its OTLP/HTTP receiver, on the task's loopback (awsvpc: one network namespace
per task); this receiver listens where the sidecar's configuration (AOT_CONFIG_CONTENT) says the
collector listens, and records each span and metric it is sent, one JSON line each:

    {"signal": "span", "service": ..., "trace_id": ..., "span_id": ..., "parent_span_id": ...,
     "name": ..., "kind": ...}
    {"signal": "metric", "service": ..., "name": ..., "type": ..., "temporality": ...}

    python -m scripts.rehearse.collector --listen 127.0.0.1:4318 --out received.jsonl
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any, ClassVar

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

from scripts import stack
from scripts.rehearse.network import NSENTER
from scripts.rehearse.paths import ROOT
from scripts.rehearse.reporting import RehearsalError, say
from scripts.rehearse.task import die_with_parent

LISTENING = "listening"


def receiver_endpoint(sidecar: dict[str, Any]) -> tuple[str, int]:
    """Where the sidecar's collector receives OTLP/HTTP, from its configuration (references,
    such as the EMF log group's name, stand in as placeholders: only the receiver is read)."""
    content = next(
        (e["Value"] for e in sidecar.get("Environment") or [] if e["Name"] == "AOT_CONFIG_CONTENT"),
        None,
    )
    if content is None:
        raise RehearsalError(f"sidecar {sidecar['Name']}: no AOT_CONFIG_CONTENT to stand in for")
    parts = content["Fn::Join"][1] if isinstance(content, dict) else [content]
    text = "".join(p if isinstance(p, str) else "reference" for p in parts)
    endpoint = json.loads(text)["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    host, _, port = str(endpoint).rpartition(":")
    return host, int(port)


def _service(attributes: Sequence[KeyValue]) -> str:
    for attribute in attributes:
        if attribute.key == "service.name":
            return str(attribute.value.string_value)
    return ""


def _traces(body: bytes) -> list[dict[str, Any]]:
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    return [
        {
            "signal": "span",
            "service": _service(resource_spans.resource.attributes),
            "trace_id": span.trace_id.hex(),
            "span_id": span.span_id.hex(),
            "parent_span_id": span.parent_span_id.hex(),
            "name": span.name,
            "kind": span.kind,
        }
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]


def _metrics(body: bytes) -> list[dict[str, Any]]:
    request = ExportMetricsServiceRequest()
    request.ParseFromString(body)
    out = []
    for resource_metrics in request.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data") or ""
                data = getattr(metric, kind) if kind else None
                temporality = getattr(data, "aggregation_temporality", 0)
                out.append(
                    {
                        "signal": "metric",
                        "service": _service(resource_metrics.resource.attributes),
                        "name": metric.name,
                        "type": kind,
                        "temporality": AggregationTemporality.Name(temporality),
                    }
                )
    return out


class _Receiver(BaseHTTPRequestHandler):
    out: ClassVar[IO[str]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        if self.path == "/v1/traces":
            records, response = _traces(body), ExportTraceServiceResponse()
        elif self.path == "/v1/metrics":
            records, response = _metrics(body), ExportMetricsServiceResponse()
        else:
            self.send_error(404)
            return
        for record in records:
            self.out.write(json.dumps(record) + "\n")
        self.out.flush()
        payload = response.SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class CollectorStandIn:
    """The receiver for one task, started in its network namespace before the task's process
    runs, stopped after the task (so the app's last flush at SIGTERM is received)."""

    def __init__(self, task: str, sidecar: dict[str, Any], workdir: Path) -> None:
        self.task = task
        self.sidecar = sidecar
        self.host, self.port = receiver_endpoint(sidecar)
        self.received = workdir / f"{task}.{sidecar['Name']}.jsonl"
        self.log_path = workdir / f"{task}.{sidecar['Name']}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, netns_pid: int) -> None:
        self.received.touch()
        argv = [
            NSENTER, f"--target={netns_pid}", "--net",
            sys.executable, "-m", "scripts.rehearse.collector",
            "--listen", f"{self.host}:{self.port}", "--out", str(self.received),
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
            )
        deadline = time.monotonic() + 15
        while LISTENING not in self.log_path.read_text(errors="replace"):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RehearsalError(
                    f"{self.task}: the collector stand-in did not start:\n"
                    + stack.tail(self.log_path)
                )
            time.sleep(0.05)
        say(
            f"{self.task}: sidecar {self.sidecar['Name']} (non-essential, {self.sidecar['Image']})"
            f" not run here; a local OTLP/HTTP receiver stands in on {self.host}:{self.port} in "
            "the task's network namespace"
        )

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)

    def records(self, signal: str) -> list[dict[str, Any]]:
        lines = self.received.read_text().splitlines() if self.received.exists() else []
        return [r for r in map(json.loads, lines) if r["signal"] == signal]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.rehearse.collector")
    parser.add_argument("--listen", required=True, help="host:port")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    with args.out.open("a") as out:
        _Receiver.out = out
        server = ThreadingHTTPServer((host, int(port)), _Receiver)
        print(f"{LISTENING} on {host}:{port}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
