"""`python -m scripts.trace`: OTLP JSON lines of several processes, one trace as one tree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scripts.trace import main, read_spans, render_tree, trace_tree

TRACE = "0af7651916cd43dd8448eb211c80319c"


def _export(service: str, *spans: dict[str, Any]) -> str:
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]}
    return json.dumps(
        {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": list(spans)}]}]}
    )


def _span(span_id: str, parent: str | None, name: str, kind: int, start: int) -> dict[str, Any]:
    span: dict[str, Any] = {
        "traceId": TRACE,
        "spanId": span_id,
        "name": name,
        "kind": kind,
        "startTimeUnixNano": str(start * 1_000_000),
        "endTimeUnixNano": str((start + 2) * 1_000_000),
        "attributes": [{"key": "http.response.status_code", "value": {"intValue": "200"}}],
    }
    if parent:
        span["parentSpanId"] = parent
    return span


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "traces-biwoco-api-1.jsonl").write_text(
        _export("biwoco-api", _span("a1", None, "POST /x", 2, 0), _span("a2", "a1", "send t", 1, 1))
        + "\n"
        + _export("biwoco-api", _span("a3", "a2", "apply_async/t", 4, 1))
        + "\n{half a line"
    )
    (tmp_path / "traces-biwoco-worker-2.jsonl").write_text(
        _export("biwoco-worker", _span("w1", "a3", "run/t", 5, 3), _span("w2", "w1", "GET", 3, 4))
        + "\n"
    )
    return tmp_path


def test_spans_of_every_process_make_one_tree(folder: Path) -> None:
    [root] = trace_tree(read_spans(folder), TRACE)
    assert (root.name, root.service, root.kind) == ("POST /x", "biwoco-api", "server")
    assert root.attributes["http.response.status_code"] == 200
    [send] = root.children
    [publish] = send.children
    [run] = publish.children
    assert (run.name, run.service, run.kind) == ("run/t", "biwoco-worker", "consumer")
    assert [child.name for child in run.children] == ["GET"]
    lines = render_tree([root]).splitlines()
    assert lines[0].startswith("POST /x  [biwoco-api server]  +0.0 ms  2.0 ms")
    assert lines[-1].startswith("         └─ GET  [biwoco-worker client]  +4.0 ms")


def test_the_command_lists_traces_and_prints_one(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--dir", str(folder)]) == 0
    assert capsys.readouterr().out.startswith(f"{TRACE}  ")
    assert main(["--dir", str(folder), TRACE]) == 0
    assert "run/t  [biwoco-worker consumer]" in capsys.readouterr().out
    assert main(["--dir", str(folder), "f" * 32]) == 1
