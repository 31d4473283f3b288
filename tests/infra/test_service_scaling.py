"""infra/service.py: how api, worker and beat deploy and scale (rollback, counts, autoscaling)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.infra.conftest import resources_of

Raw = Callable[[str, str], dict[str, Any]]


def _services(raw: Raw, env: str) -> dict[str, dict[str, Any]]:
    return {
        s["Properties"]["ServiceName"]: s["Properties"]
        for s in resources_of(raw(env, "service"), "AWS::ECS::Service").values()
    }


def _scalable_targets(raw: Raw, env: str) -> dict[str, dict[str, Any]]:
    tpl = raw(env, "service")
    services = resources_of(tpl, "AWS::ECS::Service")
    out = {}
    for target in resources_of(tpl, "AWS::ApplicationAutoScaling::ScalableTarget").values():
        logical = target["Properties"]["ResourceId"]["Fn::Join"][1][3]["Fn::GetAtt"][0]
        out[services[logical]["Properties"]["ServiceName"]] = target["Properties"]
    return out


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_circuit_breaker_with_rollback_everywhere(raw: Raw, env: str) -> None:
    for name, svc in _services(raw, env).items():
        assert svc["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {
            "Enable": True,
            "Rollback": True,
        }, name
        assert svc["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "DISABLED"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_beat_is_exactly_one(raw: Raw, env: str) -> None:
    beat = _services(raw, env)["beat"]
    assert beat["DesiredCount"] == 1
    # Never two schedulers, even during a deployment: the old task stops first.
    assert beat["DeploymentConfiguration"]["MaximumPercent"] == 100
    assert beat["DeploymentConfiguration"]["MinimumHealthyPercent"] == 0
    target = _scalable_targets(raw, env)["beat"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 1)
    assert "LoadBalancers" not in beat


def test_prod_runs_at_least_two_api_tasks(raw: Raw) -> None:
    assert _scalable_targets(raw, "prod")["api"]["MinCapacity"] >= 2


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_api_autoscaling_on_cpu_and_requests(raw: Raw, env: str) -> None:
    policies = resources_of(raw(env, "service"), "AWS::ApplicationAutoScaling::ScalingPolicy")
    metric_types = {
        p["Properties"]["TargetTrackingScalingPolicyConfiguration"][
            "PredefinedMetricSpecification"
        ]["PredefinedMetricType"]
        for p in policies.values()
        if p["Properties"]["PolicyType"] == "TargetTrackingScaling"
    }
    assert metric_types == {"ECSServiceAverageCPUUtilization", "ALBRequestCountPerTarget"}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_worker_scales_on_the_celery_backlog(raw: Raw, env: str) -> None:
    tpl = raw(env, "service")
    assert "LoadBalancers" not in _services(raw, env)["worker"]
    steps = [
        p
        for p in resources_of(tpl, "AWS::ApplicationAutoScaling::ScalingPolicy").values()
        if p["Properties"]["PolicyType"] == "StepScaling"
    ]
    assert len(steps) == 2  # scale out and scale in
    scaling_alarms = _worker_scaling_alarms(tpl)
    assert len(scaling_alarms) == 2
    for alarm in scaling_alarms.values():
        metrics = {m["Id"]: m for m in alarm["Metrics"]}
        stats = {k: m["MetricStat"]["Metric"] for k, m in metrics.items() if "MetricStat" in m}
        assert {m["MetricName"] for m in stats.values()} == {"CeleryBacklog", "RunningTaskCount"}
        backlog = next(m for m in stats.values() if m["MetricName"] == "CeleryBacklog")
        assert backlog["Namespace"] == f"Biwoco/{env}"
        running = next(m for m in stats.values() if m["MetricName"] == "RunningTaskCount")
        assert running["Namespace"] == "ECS/ContainerInsights"
        assert {d["Name"] for d in running["Dimensions"]} == {"ClusterName", "ServiceName"}


def _worker_scaling_alarms(tpl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The step-scaling alarms of the worker, keyed "lower" (scale in) / "upper" (scale out)."""
    policies = {
        k: p["Properties"]
        for k, p in resources_of(tpl, "AWS::ApplicationAutoScaling::ScalingPolicy").items()
        if p["Properties"]["PolicyType"] == "StepScaling"
    }
    out = {}
    for alarm in resources_of(tpl, "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        refs: set[str] = {
            a["Ref"] for a in props.get("AlarmActions", []) if isinstance(a, dict) and "Ref" in a
        }
        for policy_id in refs & set(policies):
            steps = policies[policy_id]["StepScalingPolicyConfiguration"]["StepAdjustments"]
            out["lower" if steps[0]["ScalingAdjustment"] < 0 else "upper"] = props
    return out


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_worker_never_scales_in_on_a_missing_backlog_reading(raw: Raw, env: str) -> None:
    """The backlog used to be published by a task waiting in the queue it measures, and read
    through FILL(q, 0): with every worker busy no point arrived, the gap read as an empty queue
    and a worker was removed. Now it is per running task, with no FILL, and a missing point is
    "not breaching" for the scale-in alarm."""
    alarms = _worker_scaling_alarms(raw(env, "service"))
    for alarm in alarms.values():
        expressions = [m["Expression"] for m in alarm["Metrics"] if "Expression" in m]
        assert len(expressions) == 1
        assert "FILL" not in expressions[0].upper()
        assert "running" in expressions[0]  # backlog per running task
    assert alarms["lower"]["TreatMissingData"] == "notBreaching"
    assert alarms["upper"].get("TreatMissingData", "missing") in ("missing", "notBreaching")
    assert alarms["lower"]["ComparisonOperator"] == "LessThanOrEqualToThreshold"
    assert alarms["lower"]["Threshold"] == 1
