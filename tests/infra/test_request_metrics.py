"""infra/request_metrics.py: the API's request metric, derived by CloudWatch Logs from the access
lines. The synthesized filters are run (scripts/rehearse/metric_filter.py) on lines the
service's own access log writes, so a renamed field on either side fails here."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from typing import Any

import pytest

from scripts.rehearse.metric_filter import Datum, publish
from service.core.access_log import AccessLog
from tests.infra.conftest import resources_of

Raw = Callable[[str, str], dict[str, Any]]

DURATION = "http.server.request.duration"


def _filters(raw: Raw, env: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The api's log group and the metric filters of the service stack."""
    tpl = raw(env, "service")
    (api_logs,) = [
        logical
        for logical, group in resources_of(tpl, "AWS::Logs::LogGroup").items()
        if group["Properties"].get("LogGroupName") == f"/biwoco/{env}/api"
    ]
    filters = [f["Properties"] for f in resources_of(tpl, "AWS::Logs::MetricFilter").values()]
    return {"Ref": api_logs}, filters


def _lines() -> dict[str, str]:
    """Access lines as a server process writes them (to its stream), and two other lines."""
    log, stream = AccessLog(), io.StringIO()
    log.attach(stream)
    common = {"request_id": "0" * 32, "method": "GET", "client": "203.0.113.7"}
    log(route="/api/v1/users/{user_id}", status=200, duration_ms=12.5, **common)
    log(
        route="/api/v1/files/{file_id}",
        status=500,
        duration_ms=40.25,
        error_type="RuntimeError",
        **common,
    )
    log(route="<unmatched>", status=404, duration_ms=0.5, **common)
    log.detach()
    ok, failed, unmatched = stream.getvalue().splitlines()
    return {
        "ok": ok,
        "failed": failed,
        "unmatched": unmatched,
        "other": '{"logger": "biwoco.error", "message": "unhandled error", "status": 500}',
        "text": "Traceback (most recent call last):",
    }


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_filters_on_the_api_log_group_publish_each_request_by_route(
    raw: Raw, env: str, caplog: pytest.LogCaptureFixture
) -> None:
    api_logs, filters = _filters(raw, env)
    assert len(filters) == 2
    for props in filters:
        assert props["LogGroupName"] == api_logs
        [transformation] = props["MetricTransformations"]
        assert transformation["MetricNamespace"] == f"Biwoco/{env}/Telemetry"
        assert transformation["MetricName"] == DURATION
        assert transformation["Unit"] == "Milliseconds"
        # No default value: a minute without requests is no data, not a zero-length request.
        assert "DefaultValue" not in transformation

    caplog.set_level(logging.INFO, logger="biwoco.access")  # as every server process has it
    lines = _lines()
    published = {
        name: [d for props in filters for d in publish(props, line)] for name, line in lines.items()
    }
    ns = f"Biwoco/{env}/Telemetry"

    def datum(value: float, **dimensions: str) -> Datum:
        return Datum(ns, DURATION, "Milliseconds", dimensions, value)

    assert published["ok"] == [datum(12.5, **{"http.route": "/api/v1/users/{user_id}"})]
    failed_route = {"http.route": "/api/v1/files/{file_id}"}
    assert sorted(published["failed"], key=lambda d: len(d.dimensions)) == [
        datum(40.25, **failed_route),
        datum(40.25, **failed_route, **{"error.type": "RuntimeError"}),
    ]
    assert published["unmatched"] == [datum(0.5, **{"http.route": "<unmatched>"})]
    # Other loggers' lines and lines that are not JSON publish nothing.
    assert published["other"] == []
    assert published["text"] == []
    # The dimension sets the dashboard searches (tests/infra/test_slo.py).
    assert {tuple(d.dimensions) for d in published["failed"]} == {
        ("http.route",),
        ("http.route", "error.type"),
    }
