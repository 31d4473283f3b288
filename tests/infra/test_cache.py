"""infra/cache.py: ElastiCache replication group."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk.assertions import Template

from tests.infra.conftest import only

Tpl = Callable[[str, str], Template]
Raw = Callable[[str, str], dict[str, Any]]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_encryption_auth_and_port(raw: Raw, env: str) -> None:
    rg = only(raw(env, "data"), "AWS::ElastiCache::ReplicationGroup")["Properties"]
    assert rg["TransitEncryptionEnabled"] is True
    assert rg["TransitEncryptionMode"] == "required"
    assert rg["AtRestEncryptionEnabled"] is True
    assert "KmsKeyId" in rg
    assert rg["Port"] == 6380
    assert rg["Engine"] == "valkey"
    # The AUTH token is a dynamic reference to the generated secret, never a literal.
    token = str(rg["AuthToken"])
    assert "{{resolve:secretsmanager:" in token
    assert "CacheAuthToken" in token


def test_prod_is_multi_az_with_failover(raw: Raw) -> None:
    prod = only(raw("prod", "data"), "AWS::ElastiCache::ReplicationGroup")["Properties"]
    assert prod["MultiAZEnabled"] is True
    assert prod["AutomaticFailoverEnabled"] is True
    assert prod["NumCacheClusters"] == 3
    dev = only(raw("dev", "data"), "AWS::ElastiCache::ReplicationGroup")["Properties"]
    assert dev["MultiAZEnabled"] is False
    assert dev["NumCacheClusters"] == 1


def test_auth_token_secret_has_no_punctuation(template: Tpl) -> None:
    template("prod", "data").has_resource_properties(
        "AWS::SecretsManager::Secret",
        {
            "Name": "biwoco-prod/cache/auth-token",
            "GenerateSecretString": {"ExcludePunctuation": True, "PasswordLength": 64},
        },
    )


def test_isolated_subnets(raw: Raw) -> None:
    group = only(raw("prod", "data"), "AWS::ElastiCache::SubnetGroup")["Properties"]
    assert "dataSubnet" in str(group["SubnetIds"])
