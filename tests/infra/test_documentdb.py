"""infra/documentdb.py: DocumentDB cluster."""

from __future__ import annotations

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
        {"RotationRules": {"ScheduleExpression": "rate(30 days)"}},
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
