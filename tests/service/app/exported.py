"""Reading what the processes' OTLP JSON file exporters wrote: span trees, the clients a span's
calls went to, and metric data points (the trace tests of the API, the worker and beat)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scripts.trace import Span


def descendants(span: Span) -> list[Span]:
    found = []
    for child in span.children:
        found.append(child)
        found.extend(descendants(child))
    return found


def systems(spans: list[Span]) -> set[str]:
    """Which clients the spans are calls of: mongodb, redis, S3."""
    systems = set()
    for span in spans:
        if span.kind != "client":
            continue
        if span.attributes.get("db.system") in ("mongodb", "redis"):
            systems.add(str(span.attributes["db.system"]))
        if span.attributes.get("rpc.service") == "S3":
            systems.add("S3")
    return systems


def metric_points(folder: Path, prefix: str, name: str) -> list[dict[str, Any]]:
    """Every exported data point of metric `name` in the files `metrics-<prefix>*`, attributes
    flattened."""
    points = []
    for path in folder.glob(f"metrics-{prefix}*.jsonl"):
        for line in path.read_text().splitlines():
            for resource in json.loads(line).get("resourceMetrics", ()):
                for scope in resource.get("scopeMetrics", ()):
                    for metric in scope.get("metrics", ()):
                        if metric["name"] != name:
                            continue
                        data = metric.get("histogram") or metric.get("sum") or metric.get("gauge")
                        for point in (data or {}).get("dataPoints", ()):
                            attributes = {
                                a["key"]: next(iter(a["value"].values()))
                                for a in point.get("attributes", ())
                            }
                            points.append({**point, "attributes": attributes})
    return points
