"""infra/slo.py and infra/telemetry_dashboard.py: the API's objectives, their burn-rate alarms,
and the dashboard rows drawn from the service's OpenTelemetry metrics."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.infra.conftest import only, resources_of

Raw = Callable[[str, str], dict[str, Any]]

# (window alarm, period in seconds, burn-rate threshold)
WINDOWS = {
    "1h": (3600, 14.4),
    "5m": (300, 14.4),
    "6h": (21600, 6.0),
    "30m": (1800, 6.0),
}


def _alarms(tpl: dict[str, Any], env: str) -> dict[str, dict[str, Any]]:
    out = {}
    for alarm in resources_of(tpl, "AWS::CloudWatch::Alarm").values():
        name = alarm["Properties"].get("AlarmName", "")
        if name.startswith(f"biwoco-{env}-Slo"):
            out[name.removeprefix(f"biwoco-{env}-")] = alarm["Properties"]
    return out


def _ids(tpl: dict[str, Any]) -> dict[str, str]:
    """Alarm name -> logical id."""
    return {
        v["Properties"]["AlarmName"]: k
        for k, v in resources_of(tpl, "AWS::CloudWatch::Alarm").items()
        if "AlarmName" in v["Properties"]
    }


def _returned(props: dict[str, Any]) -> dict[str, Any]:
    metrics: list[dict[str, Any]] = props["Metrics"]
    (returned,) = [m for m in metrics if m.get("ReturnData", True)]
    return returned


def _stat(props: dict[str, Any], metric_id: str) -> dict[str, Any]:
    (found,) = [m for m in props["Metrics"] if m["Id"] == metric_id]
    stat: dict[str, Any] = found["MetricStat"]
    return stat


@pytest.mark.parametrize(
    ("env", "availability_budget", "latency_budget", "latency_seconds"),
    [("dev", "0.5", "5", "1.5"), ("prod", "0.1", "5", "1")],
)
def test_window_alarms_compute_the_burn_rate_of_each_objective(
    raw: Raw, env: str, availability_budget: str, latency_budget: str, latency_seconds: str
) -> None:
    alarms = _alarms(raw(env, "service"), env)
    expected = {f"Slo{o}{w}" for o in ("Availability", "Latency") for w in WINDOWS}
    assert set(alarms) == expected
    for window, (period, rate) in WINDOWS.items():
        availability = alarms[f"SloAvailability{window}"]
        latency = alarms[f"SloLatency{window}"]
        for props in (availability, latency):
            assert props["Threshold"] == rate
            assert props["ComparisonOperator"] == "GreaterThanThreshold"
            assert (props["EvaluationPeriods"], props["DatapointsToAlarm"]) == (1, 1)
            assert props["TreatMissingData"] == "notBreaching"
            # The composite pages; a window alone does not.
            assert "AlarmActions" not in props
            assert "OKActions" not in props
            for metric in props["Metrics"]:
                if "MetricStat" in metric:
                    assert metric["MetricStat"]["Period"] == period
        assert _returned(availability)["Expression"] == (
            f"IF(total > 0, 100 * bad / total, 0) / {availability_budget}"
        )
        expressions = {m["Id"]: m.get("Expression") for m in availability["Metrics"]}
        assert expressions["bad"] == "FILL(elb, 0) + FILL(tgt, 0)"
        assert expressions["total"] == "MAX([FILL(req, 0), bad])"
        assert _stat(availability, "elb")["Metric"]["MetricName"] == "HTTPCode_ELB_5XX_Count"
        assert _stat(availability, "tgt")["Metric"]["MetricName"] == "HTTPCode_Target_5XX_Count"
        assert _stat(availability, "req")["Metric"]["MetricName"] == "RequestCount"
        assert {_stat(availability, i)["Stat"] for i in ("elb", "tgt", "req")} == {"Sum"}
        assert _returned(latency)["Expression"] == f"(100 - within) / {latency_budget}"
        within = _stat(latency, "within")
        assert within["Metric"]["MetricName"] == "TargetResponseTime"
        assert within["Stat"] == f"PR(:{latency_seconds})"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_each_objective_pages_through_one_composite_alarm(raw: Raw, env: str) -> None:
    tpl = raw(env, "service")
    (topic,) = resources_of(tpl, "AWS::SNS::Topic")
    ids = _ids(tpl)
    composites = {
        c["Properties"]["AlarmName"].removeprefix(f"biwoco-{env}-"): c["Properties"]
        for c in resources_of(tpl, "AWS::CloudWatch::CompositeAlarm").values()
    }
    assert set(composites) == {"SloAvailability", "SloLatency"}
    for name, props in composites.items():
        assert props["AlarmActions"] == [{"Ref": topic}]
        assert props["OKActions"] == [{"Ref": topic}]
        parts = props["AlarmRule"]["Fn::Join"][1]
        rule = "".join(f"<{p['Fn::GetAtt'][0]}>" if isinstance(p, dict) else p for p in parts)
        window = {w: ids[f"biwoco-{env}-{name}{w}"] for w in WINDOWS}
        assert rule == (
            f'((ALARM("<{window["1h"]}>") AND ALARM("<{window["5m"]}>")) OR '
            f'(ALARM("<{window["6h"]}>") AND ALARM("<{window["30m"]}>")))'
        )


def test_objectives_come_from_the_environment_config(raw: Raw) -> None:
    descriptions = {
        env: {
            c["Properties"]["AlarmName"]: c["Properties"]["AlarmDescription"]
            for c in resources_of(raw(env, "service"), "AWS::CloudWatch::CompositeAlarm").values()
        }
        for env in ("dev", "prod")
    }
    assert descriptions["prod"]["biwoco-prod-SloAvailability"].startswith("SLO 99.9 % of API")
    assert descriptions["dev"]["biwoco-dev-SloAvailability"].startswith("SLO 99.5 % of API")
    assert "within 1000 ms" in descriptions["prod"]["biwoco-prod-SloLatency"]
    assert "within 1500 ms" in descriptions["dev"]["biwoco-dev-SloLatency"]


def _dashboard(raw: Raw, env: str) -> dict[str, Any]:
    body = only(raw(env, "service"), "AWS::CloudWatch::Dashboard")["Properties"]["DashboardBody"]
    # The references (region, ARNs, names) all stand inside JSON strings.
    text = "".join(
        p if isinstance(p, str) else f"<{p['Fn::GetAtt'][0]}>" if "Fn::GetAtt" in p else "<ref>"
        for p in body["Fn::Join"][1]
    )
    data: dict[str, Any] = json.loads(text)
    return data


def _widgets(raw: Raw, env: str) -> dict[str, dict[str, Any]]:
    return {
        w["properties"].get("title", ""): w["properties"] for w in _dashboard(raw, env)["widgets"]
    }


def _expressions(widget: dict[str, Any]) -> list[str]:
    return [m[0]["expression"] for m in widget.get("metrics", []) if "expression" in m[0]]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_dashboard_shows_routes_tasks_and_clients_from_the_real_metric_names(
    raw: Raw, env: str
) -> None:
    widgets = _widgets(raw, env)
    ns = f'"Biwoco/{env}/Telemetry"'
    # The request metric: the access lines' metric filters (tests/infra/test_request_metrics.py).
    route = f'{ns},"http.route"'
    task = f'{ns},"service.name","celery.task.name"'
    http = 'MetricName="http.server.request.duration"'
    run = 'MetricName="messaging.process.duration"'
    expected = {
        "Requests per route (per minute)": [f"SEARCH('{{{route}}} {http}', 'SampleCount', 60)"],
        "5xx per route (per minute)": [
            f"SEARCH('{{{route},\"error.type\"}} {http}', 'SampleCount', 60)"
        ],
        "p95 per route (ms)": [f"SEARCH('{{{route}}} {http}', 'p95', 300)"],
        "Task runs per task (per 5 minutes)": [
            f"SEARCH('{{{task}}} {run}', 'SampleCount', 300)",
            f"SEARCH('{{{task}}} MetricName=\"celery.task.retries\"', 'Sum', 300)",
        ],
        "Task failures per task (per 5 minutes)": [
            f"SEARCH('{{{task},\"error.type\"}} {run}', 'SampleCount', 300)"
        ],
        "Task duration p95 (s)": [f"SEARCH('{{{task}}} {run}', 'p95', 300)"],
        "Celery backlog per queue": [
            f'SEARCH(\'{{"Biwoco/{env}","Queue"}} MetricName="CeleryQueueDepth"\', \'Maximum\', 60)'
        ],
        "MongoDB and Redis calls p95, as the tasks see them (s)": [
            f'SEARCH(\'{{{ns},"service.name","{system}"}} '
            "MetricName=\"db.client.operation.duration\"', 'p95', 300)"
            for system in ("db.system.name", "db.system")
        ],
    }
    for title, searches in expected.items():
        assert _expressions(widgets[title]) == searches, title
    # What was there stays: the ALB's view, ECS, the backlog, DocumentDB and ElastiCache.
    for title in ("API requests", "API 5xx %", "API latency p95 (s)", "Celery backlog"):
        assert title in widgets
    assert {"DocumentDB", "ElastiCache"} <= set(widgets)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_dashboard_shows_the_burn_rates_and_the_objectives_alarms(raw: Raw, env: str) -> None:
    widgets = _widgets(raw, env)
    (burn_title,) = [t for t in widgets if t.startswith("SLO burn rates")]
    burn = widgets[burn_title]
    assert [a["value"] for a in burn["annotations"]["horizontal"]] == [14.4, 6]
    expressions = _expressions(burn)
    assert any(
        re.fullmatch(r"IF\(total > 0, 100 \* bad / total, 0\) / 0\.\d", e) for e in expressions
    )
    assert "(100 - within) / 5" in expressions
    alarms = widgets["Alarms"]["alarms"]
    composites = resources_of(raw(env, "service"), "AWS::CloudWatch::CompositeAlarm")
    assert len(composites) == 2
    assert {f"<{logical_id}>" for logical_id in composites} <= set(alarms)
