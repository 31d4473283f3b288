"""Print a trace the local processes exported, as a tree across processes.

    python -m scripts.trace                 # the latest traces: id, start, root span, spans
    python -m scripts.trace <trace_id>      # one trace as a tree (API, worker, beat together)

`scripts/run` starts the API, the worker and beat with TELEMETRY_EXPORTER=file: each process
appends OTLP JSON lines to `.stack/telemetry/traces-<service>-<pid>.jsonl` (TELEMETRY_FILE_DIR
elsewhere). The trace id is the request id: the `X-Request-ID` response header, `request_id`
in a problem body or in any log line of the request and of the tasks it sent.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = ROOT / ".stack" / "telemetry"
_KINDS = {0: "", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
_SHOWN_ATTRIBUTES = (
    "http.response.status_code",
    "db.mongodb.collection",
    "db.statement",
    "rpc.method",
    "celery.task_name",
    "messaging.destination.name",
    "error.type",
)


@dataclass
class Span:
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    kind: str
    service: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    status: str
    children: list[Span] = field(default_factory=list)

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6


def _value(value: dict[str, Any]) -> Any:
    if "intValue" in value:  # int64 is a string in OTLP JSON
        return int(value["intValue"])
    for key in ("stringValue", "doubleValue", "boolValue"):
        if key in value:
            return value[key]
    return value


def _attributes(items: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {item["key"]: _value(item.get("value", {})) for item in items}


def read_spans(folder: Path) -> Iterator[Span]:
    """Every span in the folder's `traces-*.jsonl` files (OTLP JSON, one export per line)."""
    for path in sorted(folder.glob("traces-*.jsonl")):
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                if not line.strip():
                    continue
                try:
                    export = json.loads(line)
                except ValueError:  # a line still being written
                    continue
                for resource_spans in export.get("resourceSpans", ()):
                    resource = _attributes(resource_spans.get("resource", {}).get("attributes", ()))
                    service = str(resource.get("service.name", "?"))
                    for scope_spans in resource_spans.get("scopeSpans", ()):
                        for raw in scope_spans.get("spans", ()):
                            yield Span(
                                trace_id=raw["traceId"],
                                span_id=raw["spanId"],
                                parent_id=raw.get("parentSpanId") or None,
                                name=raw["name"],
                                kind=_KINDS.get(int(raw.get("kind", 0)), "?"),
                                service=service,
                                start_ns=int(raw["startTimeUnixNano"]),
                                end_ns=int(raw["endTimeUnixNano"]),
                                attributes=_attributes(raw.get("attributes", ())),
                                status="error"
                                if raw.get("status", {}).get("code") in (2, "STATUS_CODE_ERROR")
                                else "",
                            )


def trace_tree(spans: Iterable[Span], trace_id: str) -> list[Span]:
    """The trace's root spans (no parent, or a parent no process exported), children linked
    and ordered by start."""
    mine = {span.span_id: span for span in spans if span.trace_id == trace_id.lower()}
    roots = []
    for span in mine.values():
        span.children = []
    for span in sorted(mine.values(), key=lambda s: s.start_ns):
        parent = mine.get(span.parent_id) if span.parent_id else None
        if parent is None:
            roots.append(span)
        else:
            parent.children.append(span)
    return roots


def _detail(span: Span) -> str:
    shown = [
        f"{k}={str(span.attributes[k]).replace(chr(10), '; ')}"
        for k in _SHOWN_ATTRIBUTES
        if k in span.attributes
    ]
    return f" {' '.join(shown)}" if shown else ""


def render_tree(roots: list[Span]) -> str:
    if not roots:
        return ""
    start = min(span.start_ns for span in roots)
    lines: list[str] = []

    def walk(span: Span, prefix: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└─ " if last else "├─ ")
        offset = (span.start_ns - start) / 1e6
        error = " ERROR" if span.status else ""
        lines.append(
            f"{prefix}{branch}{span.name}  [{span.service} {span.kind}]  "
            f"+{offset:.1f} ms  {span.duration_ms:.1f} ms{error}{_detail(span)}"
        )
        below = prefix if top else prefix + ("   " if last else "│  ")
        for index, child in enumerate(span.children):
            walk(child, below, index == len(span.children) - 1, False)

    for root in roots:
        walk(root, "", True, True)
    return "\n".join(lines)


def latest(spans: Iterable[Span], count: int = 20) -> list[tuple[str, Span, int]]:
    """The newest traces: (trace id, its earliest span, how many spans)."""
    by_trace: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        by_trace[span.trace_id].append(span)
    firsts = [
        (trace_id, min(group, key=lambda s: s.start_ns), len(group))
        for trace_id, group in by_trace.items()
    ]
    firsts.sort(key=lambda item: item[1].start_ns, reverse=True)
    return firsts[:count]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.trace", description=__doc__)
    parser.add_argument("trace_id", nargs="?", help="32 hex digits (the request id)")
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(os.environ.get("TELEMETRY_FILE_DIR") or DEFAULT_DIR),
        help="where the processes write (default: TELEMETRY_FILE_DIR, else .stack/telemetry)",
    )
    args = parser.parse_args(argv)
    spans = list(read_spans(args.dir))
    if args.trace_id is None:
        for trace_id, first, count in latest(spans):
            at = datetime.fromtimestamp(first.start_ns / 1e9, UTC).strftime("%H:%M:%S")
            print(f"{trace_id}  {at}  {first.name}  ({count} spans)")
        return 0
    tree = render_tree(trace_tree(spans, args.trace_id))
    if not tree:
        print(f"no spans of trace {args.trace_id} in {args.dir}", file=sys.stderr)
        return 1
    print(tree)
    return 0


if __name__ == "__main__":
    sys.exit(main())
