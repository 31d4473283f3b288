"""infra/config.py: typed, strict per-environment configuration."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from infra.config import ConfigError, EnvConfig, load_configs, parse_env, read_cdk_json


def _block(env: str) -> dict[str, Any]:
    return copy.deepcopy(read_cdk_json()["biwoco"]["environments"][env])


def test_cdk_json_has_dev_and_prod() -> None:
    configs = load_configs()
    assert {"dev", "prod"} <= set(configs)
    assert all(isinstance(c, EnvConfig) for c in configs.values())


def test_dev_and_prod_differ_where_the_issue_says() -> None:
    c = load_configs()
    dev, prod = c["dev"], c["prod"]
    assert len(dev.availability_zones) == 2
    assert dev.network.nat_gateways == 1
    assert len(prod.availability_zones) == 3
    assert prod.network.nat_gateways == 3
    assert prod.production
    assert not dev.production
    assert prod.auth.mfa == "REQUIRED"
    assert prod.service.api.min_tasks >= 2
    assert prod.cache.multi_az
    assert not dev.cache.multi_az
    assert dev.account != prod.account
    assert prod.edge.domain is not None
    assert dev.edge.domain is None


def test_unknown_key_is_an_error() -> None:
    block = _block("dev")
    block["network"]["nat_gateway"] = 1
    with pytest.raises(ConfigError, match=r"dev\.network: unknown keys \['nat_gateway'\]"):
        parse_env("dev", block)


def test_missing_key_is_an_error() -> None:
    block = _block("dev")
    del block["cache"]["port"]
    with pytest.raises(ConfigError, match="missing key 'port'"):
        parse_env("dev", block)


def test_wrong_type_is_an_error() -> None:
    block = _block("dev")
    block["documentdb"]["instances"] = "2"
    with pytest.raises(ConfigError, match=r"dev\.documentdb\.instances: expected an integer"):
        parse_env("dev", block)


def test_bad_mfa_mode_is_an_error() -> None:
    block = _block("dev")
    block["auth"]["mfa"] = "SOMETIMES"
    with pytest.raises(ConfigError, match="must be one of"):
        parse_env("dev", block)


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("documentdb", "port", 27017, "default 27017"),
        ("cache", "port", 6379, "default 6379"),
        ("documentdb", "backup_retention_days", 3, "at least 7"),
        ("documentdb", "rotation_days", 7, "run monthly on their own days"),
    ],
)
def test_defaults_and_weak_values_are_refused(
    section: str, key: str, value: int, message: str
) -> None:
    block = _block("dev")
    block[section][key] = value
    with pytest.raises(ConfigError, match=message):
        parse_env("dev", block)


def test_production_rules() -> None:
    block = _block("prod")
    block["cache"]["num_cache_clusters"] = 1
    with pytest.raises(ConfigError, match="Multi-AZ"):
        parse_env("prod", block)
    block = _block("prod")
    block["service"]["api"]["min_tasks"] = 1
    with pytest.raises(ConfigError, match="at least 2 api tasks"):
        parse_env("prod", block)


def test_zones_must_be_in_the_region() -> None:
    block = _block("dev")
    block["availability_zones"] = ["us-west-2a", "us-west-2b"]
    with pytest.raises(ConfigError, match="not in region"):
        parse_env("dev", block)


def test_account_may_be_null_for_account_agnostic_synthesis() -> None:
    block = _block("dev")
    block["account"] = None
    assert parse_env("dev", block).account is None


def test_derived_names() -> None:
    dev = load_configs()["dev"]
    assert dev.prefix == "biwoco-dev"
    assert dev.metrics_namespace == "Biwoco/dev"
    assert dev.telemetry_namespace == "Biwoco/dev/Telemetry"


def test_sampling_and_objectives_per_environment() -> None:
    c = load_configs()
    assert (c["dev"].telemetry.sample_ratio, c["prod"].telemetry.sample_ratio) == (1.0, 0.1)
    assert c["prod"].observability.slo.availability_percent == 99.9
    assert c["prod"].observability.slo.latency_percent == 95


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("telemetry", "sample_ratio"), 1.5, r"telemetry.sample_ratio must be in \[0, 1\]"),
        (("observability", "slo", "availability_percent"), 100, "below 100"),
        # A 10 % budget burnt 14.4x is more than every request: the alarms could never fire.
        (("observability", "slo", "latency_percent"), 90, "could never fire"),
        (("observability", "slo", "latency_ms"), 0, "latency_ms must be between"),
    ],
)
def test_sampling_and_objectives_are_range_checked(
    path: tuple[str, ...], value: float, message: str
) -> None:
    block = _block("dev")
    parent = block
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    with pytest.raises(ConfigError, match=message):
        parse_env("dev", block)


def test_every_error_of_a_block_is_named_with_its_path() -> None:
    # pydantic reports all of them at once; a bool is not an integer, a tag value is a string.
    block = _block("dev")
    block["service"]["api"]["cpu"] = True
    block["mail"]["from_name"] = ""
    block["tags"] = {"team": 1}
    with pytest.raises(ConfigError) as raised:
        parse_env("dev", block)
    assert str(raised.value).split("; ") == [
        "dev.service.api.cpu: expected an integer, got True",
        "dev.mail.from_name: expected a non-empty string, got ''",
        "dev.tags.team: expected a non-empty string, got 1",
    ]
