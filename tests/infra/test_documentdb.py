"""infra/documentdb.py: DocumentDB cluster."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from tests.infra.conftest import only, resources_of

Tpl = Callable[[str, str], Template]
Raw = Callable[[str, str], dict[str, Any]]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_encrypted_tls_and_audited(template: Tpl, env: str) -> None:
    t = template(env, "data")
    t.has_resource_properties(
        "AWS::DocDB::DBCluster",
        {
            "StorageEncrypted": True,
            "KmsKeyId": Match.any_value(),
            "Port": 27117,
            "EnableCloudwatchLogsExports": ["audit", "profiler"],
            "EngineVersion": "5.0.0",
        },
    )
    t.has_resource_properties(
        "AWS::DocDB::DBClusterParameterGroup",
        {
            "Family": "docdb5.0",
            "Parameters": Match.object_like({"tls": "enabled", "audit_logs": "enabled"}),
        },
    )


@pytest.mark.parametrize(("env", "days", "instances"), [("dev", 7, 1), ("prod", 35, 3)])
def test_backups_and_size(raw: Raw, env: str, days: int, instances: int) -> None:
    tpl = raw(env, "data")
    cluster = only(tpl, "AWS::DocDB::DBCluster")["Properties"]
    assert cluster["BackupRetentionPeriod"] == days >= 7
    assert len(resources_of(tpl, "AWS::DocDB::DBInstance")) == instances


def test_prod_is_protected_and_retained(raw: Raw) -> None:
    prod = only(raw("prod", "data"), "AWS::DocDB::DBCluster")
    assert prod["Properties"]["DeletionProtection"] is True
    assert prod["DeletionPolicy"] == "Retain"
    dev = only(raw("dev", "data"), "AWS::DocDB::DBCluster")
    assert dev["Properties"]["DeletionProtection"] is False
    assert dev["DeletionPolicy"] == "Delete"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_credentials_in_secrets_manager_with_rotation(template: Tpl, raw: Raw, env: str) -> None:
    cluster = only(raw(env, "data"), "AWS::DocDB::DBCluster")["Properties"]
    assert "{{resolve:secretsmanager:" in str(cluster["MasterUsername"])
    assert "{{resolve:secretsmanager:" in str(cluster["MasterUserPassword"])
    template(env, "data").has_resource_properties(
        "AWS::SecretsManager::RotationSchedule",
        # Monthly, each secret on its own day (tests/infra/test_deploy_time.py).
        {"RotationRules": {"ScheduleExpression": "cron(0 2 15 * ? *)", "Duration": "2h"}},
    )


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_in_isolated_subnets_and_no_open_ingress(raw: Raw, env: str) -> None:
    tpl = raw(env, "data")
    group = only(tpl, "AWS::DocDB::DBSubnetGroup")["Properties"]
    assert "dataSubnet" in str(group["SubnetIds"])
    for sg in resources_of(tpl, "AWS::EC2::SecurityGroup").values():
        assert "SecurityGroupIngress" not in sg["Properties"] or all(
            "CidrIp" not in r for r in sg["Properties"]["SecurityGroupIngress"]
        )


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_exported_logs_have_retention(template: Tpl, env: str) -> None:
    t = template(env, "data")
    for kind in ("audit", "profiler"):
        t.has_resource_properties(
            "AWS::Logs::LogGroup",
            {
                "LogGroupName": f"/aws/docdb/biwoco-{env}-docdb/{kind}",
                "RetentionInDays": Match.any_value(),
            },
        )


def _data_resources(raw: Raw, env: str, rtype: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in raw(env, "data")["Resources"].items() if v["Type"] == rtype}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_app_user_rotates_by_alternating_users_after_every_instance(raw: Raw, env: str) -> None:
    """Single-user rotation of the one (admin) secret changed the password under running tasks
    (ECS injects it once), and its first rotation could run before an instance existed."""
    tpl = raw(env, "data")
    secrets = _data_resources(raw, env, "AWS::SecretsManager::Secret")
    app = next(
        k for k, v in secrets.items() if v["Properties"]["Name"] == f"biwoco-{env}/documentdb/app"
    )
    template = json.dumps(
        secrets[app]["Properties"]["GenerateSecretString"]["SecretStringTemplate"]
    )
    assert '\\"username\\":\\"biwoco_app\\"' in template or "biwoco_app" in template
    assert "masterarn" in template  # the multi-user function logs in as admin to alternate
    attachments = {
        k: v["Properties"]["SecretId"]["Ref"]
        for k, v in _data_resources(raw, env, "AWS::SecretsManager::SecretTargetAttachment").items()
    }
    schedules = _data_resources(raw, env, "AWS::SecretsManager::RotationSchedule")
    instances = set(_data_resources(raw, env, "AWS::DocDB::DBInstance"))
    apps = _data_resources(raw, env, "AWS::Serverless::Application")
    app_schedule = next(
        v for v in schedules.values() if attachments[v["Properties"]["SecretId"]["Ref"]] == app
    )
    function = app_schedule["Properties"]["RotationLambdaARN"]["Fn::GetAtt"][0]
    mapping = apps[function]["Properties"]["Location"]["ApplicationId"]["Fn::FindInMap"][0]
    application_id = json.dumps(tpl["Mappings"][mapping])
    assert "SecretsManagerMongoDBRotationMultiUser" in application_id
    # Never rotated before the service stack has created the user ...
    assert app_schedule["Properties"]["RotateImmediatelyOnUpdate"] is False
    # ... and no schedule (nor its function) before every instance exists.
    for schedule in schedules.values():
        assert instances <= set(schedule["DependsOn"])
    for application in apps.values():
        assert instances <= set(application["DependsOn"])
