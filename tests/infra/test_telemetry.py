"""infra/telemetry.py: the ADOT collector sidecar of the api, worker and beat tasks, the app
containers' telemetry settings, and the task role's rights for X-Ray and the EMF log group."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.infra.conftest import app_container, only, resources_of

Raw = Callable[[str, str], dict[str, Any]]

SERVICES = ("api", "worker", "beat")
IMAGE = "public.ecr.aws/aws-observability/aws-otel-collector:v0.49.0"


def _tasks(raw: Raw, env: str) -> dict[str, dict[str, Any]]:
    """The api, worker and beat task definitions, by their app container's name."""
    out = {}
    for td in resources_of(raw(env, "service"), "AWS::ECS::TaskDefinition").values():
        name = app_container(td)["Name"]
        if name in SERVICES:
            out[name] = td
    assert sorted(out) == sorted(SERVICES)
    return out


def _sidecar(td: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = td["Properties"]["ContainerDefinitions"]
    (sidecar,) = [c for c in containers if not c["Essential"]]
    return sidecar


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["Name"]: e["Value"] for e in container.get("Environment", [])}


def _collector_config(td: dict[str, Any]) -> dict[str, Any]:
    """AOT_CONFIG_CONTENT, its one reference (the EMF log group's name) shown as {"Ref": id}."""
    content = _env(_sidecar(td))["AOT_CONFIG_CONTENT"]
    parts = content["Fn::Join"][1] if isinstance(content, dict) else [content]
    text = "".join(p if isinstance(p, str) else f"@{p['Ref']}@" for p in parts)
    config: dict[str, Any] = json.loads(
        re.sub(r'"@(\w+)@"', lambda m: json.dumps({"Ref": m[1]}), text)
    )
    return config


def _log_group_id(tpl: dict[str, Any], name: str) -> str:
    (logical_id,) = [
        k
        for k, v in resources_of(tpl, "AWS::Logs::LogGroup").items()
        if v["Properties"].get("LogGroupName") == name
    ]
    return logical_id


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_each_service_task_has_a_collector_that_cannot_take_it_down(raw: Raw, env: str) -> None:
    for name, td in _tasks(raw, env).items():
        containers = td["Properties"]["ContainerDefinitions"]
        assert len(containers) == 2, name
        sidecar, app = _sidecar(td), app_container(td)
        assert sidecar["Name"] == "otel-collector"
        assert sidecar["Image"] == IMAGE  # ECR Public, a pinned version, never :latest
        assert sidecar["Essential"] is False
        assert sidecar["ReadonlyRootFilesystem"] is True
        # Small, and capped: a runaway collector is killed alone.
        assert (sidecar["Cpu"], sidecar["MemoryReservation"], sidecar["Memory"]) == (64, 64, 256)
        assert int(td["Properties"]["Memory"]) >= 512
        # The app starts, runs and stops without it.
        assert "DependsOn" not in app
        assert "DependsOn" not in sidecar
        # Nothing outside the task reaches it: no port mapping, loopback only (below).
        assert "PortMappings" not in sidecar
        assert sidecar["HealthCheck"]["Command"] == ["CMD", "/healthcheck"]
        # Its log lines in the service's own log group, under their own stream prefix.
        assert (
            sidecar["LogConfiguration"]["Options"]["awslogs-group"]
            == (app["LogConfiguration"]["Options"]["awslogs-group"])
        )
        assert sidecar["LogConfiguration"]["Options"]["awslogs-stream-prefix"] == "otel-collector"
        assert app["LogConfiguration"]["Options"]["awslogs-stream-prefix"] == name


@pytest.mark.parametrize(("env", "ratio"), [("dev", "1.0"), ("prod", "0.1")])
def test_app_containers_send_their_telemetry_to_the_sidecar(raw: Raw, env: str, ratio: str) -> None:
    for name, td in _tasks(raw, env).items():
        app = _env(app_container(td))
        assert app["TELEMETRY_ENABLED"] == "true", name
        assert app["TELEMETRY_EXPORTER"] == "otlp"
        assert app["TELEMETRY_OTLP_ENDPOINT"] == "http://127.0.0.1:4318"
        assert app["TELEMETRY_SAMPLE_RATIO"] == ratio
        assert app["TELEMETRY_SERVICE_NAME"] == f"biwoco-{env}"
        # The SDK does not measure the request metric: CloudWatch Logs derives it from the
        # access lines (tests/infra/test_request_metrics.py).
        assert app["TELEMETRY_HTTP_DURATION_METRIC"] == "false"
        # What the EMF exporter needs to publish percentiles and correct counts.
        assert app["OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION"] == (
            "base2_exponential_bucket_histogram"
        )
        assert app["OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"] == "delta"
        # A stop without a collector costs at most seconds, not the SDK's 10 s per signal.
        assert app["OTEL_EXPORTER_OTLP_TIMEOUT"] == "2"
        receiver = _collector_config(td)["receivers"]["otlp"]["protocols"]
        assert receiver == {"http": {"endpoint": "127.0.0.1:4318"}}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_one_tasks_without_a_collector_do_not_turn_telemetry_on(raw: Raw, env: str) -> None:
    """The migrate and db-users one-off tasks have no sidecar, so no exporter to fail."""
    for td in resources_of(raw(env, "service"), "AWS::ECS::TaskDefinition").values():
        containers = td["Properties"]["ContainerDefinitions"]
        if app_container(td)["Name"] not in SERVICES:
            assert len(containers) == 1
            assert "TELEMETRY_ENABLED" not in _env(containers[0])


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_collector_exports_traces_to_xray_and_metrics_as_emf(raw: Raw, env: str) -> None:
    tpl = raw(env, "service")
    log_group = _log_group_id(tpl, f"/biwoco/{env}/telemetry-metrics")
    configs = {
        json.dumps(_collector_config(td), sort_keys=True) for td in _tasks(raw, env).values()
    }
    assert len(configs) == 1  # one configuration, every service
    config = json.loads(configs.pop())
    pipelines = config["service"]["pipelines"]
    assert pipelines["traces"] == {
        "receivers": ["otlp"],
        "processors": ["memory_limiter", "batch/traces"],
        "exporters": ["awsxray"],
    }
    assert pipelines["metrics"] == {
        "receivers": ["otlp"],
        "processors": ["memory_limiter", "batch/metrics"],
        "exporters": ["awsemf"],
    }
    # The limiter refuses data below the container's hard limit (256 MiB).
    assert config["processors"]["memory_limiter"]["limit_mib"] == 200
    assert config["exporters"]["awsxray"]["region"] == "ap-southeast-1"
    emf = config["exporters"]["awsemf"]
    assert emf["namespace"] == f"Biwoco/{env}/Telemetry"
    assert emf["log_group_name"] == {"Ref": log_group}
    declared = {d["metric_name_selectors"][0]: d["dimensions"] for d in emf["metric_declarations"]}
    assert declared["^messaging[.]process[.]duration$"] == [
        ["service.name", "celery.task.name"],
        ["service.name", "celery.task.name", "error.type"],
    ]
    # Not the API's request duration: the access lines' metric filters publish it.
    assert set(declared) == {
        "^messaging[.]process[.]duration$",
        "^celery[.]task[.]retries$",
        "^db[.]client[.]operation[.]duration$",
    }


@pytest.mark.parametrize(
    ("env", "days", "policy"), [("dev", 30, "Delete"), ("prod", 365, "Retain")]
)
def test_the_emf_log_group(raw: Raw, env: str, days: int, policy: str) -> None:
    tpl = raw(env, "service")
    group = tpl["Resources"][_log_group_id(tpl, f"/biwoco/{env}/telemetry-metrics")]
    assert group["Properties"]["RetentionInDays"] == days
    assert group["DeletionPolicy"] == policy


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_task_role_may_send_traces_and_write_only_its_emf_log_group(raw: Raw, env: str) -> None:
    tpl = raw(env, "service")
    log_group = _log_group_id(tpl, f"/biwoco/{env}/telemetry-metrics")
    (task_role,) = [
        k
        for k, v in resources_of(tpl, "AWS::IAM::Role").items()
        if "api/worker/beat task role" in v["Properties"].get("Description", "")
    ]
    (policy,) = [
        p["Properties"]
        for k, p in resources_of(tpl, "AWS::IAM::Policy").items()
        if k.startswith("ServiceTelemetryCollectorPolicy")
    ]
    assert policy["Roles"] == [{"Ref": task_role}]
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert statements == {
        "TracesToXRay": {
            "Sid": "TracesToXRay",
            "Effect": "Allow",
            "Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
            "Resource": "*",
        },
        "MetricsToOwnLogGroup": {
            "Sid": "MetricsToOwnLogGroup",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
            "Resource": {"Fn::GetAtt": [log_group, "Arn"]},
        },
    }
    # Nothing else in the stack grants X-Ray, or writes to that log group.
    for logical_id, other in resources_of(tpl, "AWS::IAM::Policy").items():
        text = json.dumps(other["Properties"])
        if not logical_id.startswith("ServiceTelemetryCollectorPolicy"):
            assert "xray:" not in text, logical_id
            assert log_group not in text, logical_id


def test_the_collector_is_not_pulled_from_docker_hub(raw: Raw) -> None:
    images = {
        c["Image"]
        for td in resources_of(raw("prod", "service"), "AWS::ECS::TaskDefinition").values()
        for c in td["Properties"]["ContainerDefinitions"]
        if isinstance(c["Image"], str)
    }
    assert images == {IMAGE}
    assert only(raw("prod", "service"), "AWS::ECS::Cluster")
