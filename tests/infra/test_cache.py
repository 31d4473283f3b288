"""infra/cache.py: two ElastiCache replication groups, one per eviction policy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk.assertions import Template

from tests.infra.conftest import only, resources_of

Tpl = Callable[[str, str], Template]
Raw = Callable[[str, str], dict[str, Any]]


def _groups(raw: Raw, env: str) -> dict[str, dict[str, Any]]:
    """Replication groups by role (the state group keeps the previous release's id)."""
    role = {f"biwoco-{env}-cache": "state", f"biwoco-{env}-redis-cache": "cache"}
    return {
        role[rg["Properties"]["ReplicationGroupId"]]: rg["Properties"]
        for rg in resources_of(raw(env, "data"), "AWS::ElastiCache::ReplicationGroup").values()
    }


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_encryption_auth_and_port(raw: Raw, env: str) -> None:
    groups = _groups(raw, env)
    assert set(groups) == {"state", "cache"}
    tokens = set()
    for rg in groups.values():
        assert rg["TransitEncryptionEnabled"] is True
        assert rg["TransitEncryptionMode"] == "required"
        assert rg["AtRestEncryptionEnabled"] is True
        assert "KmsKeyId" in rg
        assert rg["Port"] == 6380
        assert rg["Engine"] == "valkey"
        # The AUTH token is a dynamic reference to the group's own secret, never a literal.
        token = str(rg["AuthToken"])
        assert "{{resolve:secretsmanager:" in token
        tokens.add(token)
    assert len(tokens) == 2  # each group its own


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_auth_state_lives_where_nothing_is_evicted(raw: Raw, env: str) -> None:
    """One server held the broker, the cache and the auth state with the default policy
    (volatile-lru), which evicts keys with a TTL first: exactly the revocation keys. Each
    group now names its parameter group, and the state group's policy is noeviction."""
    tpl = raw(env, "data")
    params = resources_of(tpl, "AWS::ElastiCache::ParameterGroup")
    policies = {}
    for role, rg in _groups(raw, env).items():
        ref = rg["CacheParameterGroupName"]["Ref"]
        group = params[ref]["Properties"]
        assert group["CacheParameterGroupFamily"] == "valkey8"
        policies[role] = group["Properties"]["maxmemory-policy"]
    assert policies == {"state": "noeviction", "cache": "allkeys-lru"}


def test_prod_is_multi_az_with_failover(raw: Raw) -> None:
    for prod in _groups(raw, "prod").values():
        assert prod["MultiAZEnabled"] is True
        assert prod["AutomaticFailoverEnabled"] is True
        assert prod["NumCacheClusters"] == 3
    for dev in _groups(raw, "dev").values():
        assert dev["MultiAZEnabled"] is False
        assert dev["NumCacheClusters"] == 1


@pytest.mark.parametrize("name", ["cache/auth-token", "redis/cache-auth-token"])
def test_auth_token_secret_has_no_punctuation(template: Tpl, name: str) -> None:
    template("prod", "data").has_resource_properties(
        "AWS::SecretsManager::Secret",
        {
            "Name": f"biwoco-prod/{name}",
            "GenerateSecretString": {"ExcludePunctuation": True, "PasswordLength": 64},
        },
    )


def test_isolated_subnets(raw: Raw) -> None:
    group = only(raw("prod", "data"), "AWS::ElastiCache::SubnetGroup")["Properties"]
    assert "dataSubnet" in str(group["SubnetIds"])


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_state_group_is_the_previous_releases_single_group(raw: Raw, env: str) -> None:
    # The previous release (c571da5) had one group, `biwoco-<env>-cache`, whose address, port
    # and AUTH token the deployed service stack imports. The state group keeps its logical ids,
    # name and token: updated in place (its data kept), the exports unchanged.
    resources = raw(env, "data")["Resources"]
    state = resources["CacheReplicationGroupBFE59FF3"]
    assert state["Properties"]["ReplicationGroupId"] == f"biwoco-{env}-cache"
    assert state["Properties"]["AuthToken"]["Fn::Join"][1][1] == {"Ref": "CacheAuthToken04672416"}
    assert state["Properties"]["LogDeliveryConfigurations"][0]["DestinationDetails"] == {
        "CloudWatchLogsDetails": {"LogGroup": {"Ref": "CacheSlowLog43E55961"}}
    }
    token = resources["CacheAuthToken04672416"]["Properties"]
    assert token["Name"] == f"biwoco-{env}/cache/auth-token"
    ids = {
        rg["Properties"]["ReplicationGroupId"]
        for rg in resources_of(raw(env, "data"), "AWS::ElastiCache::ReplicationGroup").values()
    }
    assert ids == {f"biwoco-{env}-cache", f"biwoco-{env}-redis-cache"}
