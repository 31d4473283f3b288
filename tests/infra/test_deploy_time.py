"""What happens on the second deploy and after (issue 24): scaling, stopping, mail links,
deletion, rotation windows and the WAF against the API's own limits."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from infra.service import WORKER_STOP_TIMEOUT_SECONDS
from infra.waf import WAF_BODY_SIZE_LIMIT_BYTES, WAF_BODY_SIZE_RULE
from service.core.config import Settings
from tests.infra.conftest import app_container, resources_of

Raw = Callable[[str, str], dict[str, Any]]
ENVS = ("dev", "prod")


def _containers(raw: Raw, env: str) -> dict[str, dict[str, Any]]:
    out = {}
    for td in resources_of(raw(env, "service"), "AWS::ECS::TaskDefinition").values():
        container = app_container(td)
        out[container["Name"]] = container
    return out


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["Name"]: e["Value"] for e in container.get("Environment", [])}


@pytest.mark.parametrize("env", ENVS)
def test_autoscaled_services_leave_the_count_to_autoscaling(raw: Raw, env: str) -> None:
    # With DesiredCount in the template, every update of the service (each image deploy) sets
    # the count back to it, undoing a scale-out (aws/aws-cdk#13130). Without it CloudFormation
    # keeps the running count on update and starts a new service at 1; the scalable target's
    # minimum then raises it.
    for svc in resources_of(raw(env, "service"), "AWS::ECS::Service").values():
        props = svc["Properties"]
        if props["ServiceName"] in ("api", "worker"):
            assert "DesiredCount" not in props, props["ServiceName"]


@pytest.mark.parametrize("env", ENVS)
def test_a_worker_task_ends_before_fargate_kills_it(raw: Raw, env: str) -> None:
    worker = _containers(raw, env)["worker"]
    assert worker["StopTimeout"] == WORKER_STOP_TIMEOUT_SECONDS == 120  # Fargate's maximum
    env_vars = _env(worker)
    hard = int(env_vars["CELERY_TASK_TIME_LIMIT_SECONDS"])
    soft = int(env_vars["CELERY_TASK_SOFT_TIME_LIMIT_SECONDS"])
    assert soft < hard < worker["StopTimeout"] - 10  # time to ack and exit after the limit
    # The service accepts those settings (its own validator: soft < hard < visibility timeout).
    Settings(
        celery_task_time_limit_seconds=hard,
        celery_task_soft_time_limit_seconds=soft,
    )


@pytest.mark.parametrize("env", ENVS)
def test_every_task_knows_the_web_app_url(raw: Raw, env: str) -> None:
    outputs = raw(env, "service")["Outputs"]
    api_url = json.dumps(outputs["ApiUrl"]["Value"])
    for name in ("api", "worker", "beat"):
        url = _env(_containers(raw, env)[name]).get("WEB_APP_URL")
        assert url is not None, name
        assert json.dumps(url) == api_url, name


def test_production_keeps_what_the_retained_cluster_uses(raw: Raw) -> None:
    resources = raw("prod", "data")["Resources"]
    kinds = (
        "AWS::DocDB::DBCluster",
        "AWS::DocDB::DBInstance",
        "AWS::DocDB::DBSubnetGroup",
        "AWS::DocDB::DBClusterParameterGroup",
        "AWS::SecretsManager::Secret",
        "AWS::Logs::LogGroup",
    )
    for logical_id, resource in resources.items():
        if resource["Type"] in kinds:
            assert resource.get("DeletionPolicy") == "Retain", logical_id
    (sg,) = [
        r
        for k, r in resources.items()
        if r["Type"] == "AWS::EC2::SecurityGroup" and k.startswith("DocumentDbSg")
    ]
    assert sg.get("DeletionPolicy") == "Retain"


@pytest.mark.parametrize("env", ENVS)
def test_the_two_rotations_never_share_a_window(raw: Raw, env: str) -> None:
    schedules = resources_of(raw(env, "data"), "AWS::SecretsManager::RotationSchedule")
    rules = sorted(json.dumps(s["Properties"]["RotationRules"]) for s in schedules.values())
    assert len(rules) == 2
    assert rules[0] != rules[1]
    for s in schedules.values():
        rule = s["Properties"]["RotationRules"]
        assert rule["ScheduleExpression"].startswith("cron(")
        assert "Duration" in rule
        assert s["Properties"]["RotateImmediatelyOnUpdate"] is False
    days = {
        s["Properties"]["RotationRules"]["ScheduleExpression"].split()[2]
        for s in schedules.values()
    }
    assert len(days) == 2  # different days of the month


@pytest.mark.parametrize("env", ENVS)
def test_the_waf_does_not_refuse_a_body_the_api_accepts(raw: Raw, env: str) -> None:
    limit = Settings.model_fields["max_request_body_bytes"].default
    (acl,) = resources_of(raw(env, "edge_firewall"), "AWS::WAFv2::WebACL").values()
    common = next(
        r for r in acl["Properties"]["Rules"] if r["Name"] == "AWSManagedRulesCommonRuleSet"
    )
    overrides = {
        o["Name"]: o["ActionToUse"]
        for o in common["Statement"]["ManagedRuleGroupStatement"].get("RuleActionOverrides", [])
    }
    if limit > WAF_BODY_SIZE_LIMIT_BYTES:
        assert overrides.get(WAF_BODY_SIZE_RULE) == {"Count": {}}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_a_bad_api_deploy_is_rolled_back_by_its_alarms(raw: Raw, env: str) -> None:
    tpl = raw(env, "service")
    (api_id,) = [
        k
        for k, v in resources_of(tpl, "AWS::ECS::Service").items()
        if v["Properties"]["ServiceName"] == "api"
    ]
    api = tpl["Resources"][api_id]["Properties"]
    alarms = api["DeploymentConfiguration"]["Alarms"]
    assert alarms["Enable"] is True
    assert alarms["Rollback"] is True
    refs = {name["Ref"] for name in alarms["AlarmNames"]}
    names = {tpl["Resources"][ref]["Properties"]["AlarmName"] for ref in refs}
    assert names == {f"biwoco-{env}-Alb5xxRate", f"biwoco-{env}-ApiUnhealthyTargets"}
    # The alarms watch the ALB, so they are created before the service that names them.
    assert refs <= set(tpl["Resources"][api_id]["DependsOn"])
