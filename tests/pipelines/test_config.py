"""The ``biwoco.pipeline`` block of cdk.json: strictly typed, checked against environments."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from infra.config import ConfigError, load_configs, read_cdk_json
from pipelines.config import load_pipeline_config, parse_pipeline


def _block() -> dict[str, Any]:
    data: dict[str, Any] = copy.deepcopy(read_cdk_json()["biwoco"]["pipeline"])
    return data


def test_cdk_json_pipeline_block_parses() -> None:
    config = load_pipeline_config()
    assert config is not None
    assert config.account == "333333333333"
    dev, prod = config.environments(load_configs())
    assert (dev.name, prod.name) == ("dev", "prod")
    assert dev.account != config.account != prod.account  # cross-account


def test_no_block_means_no_pipeline() -> None:
    context = copy.deepcopy(read_cdk_json())
    del context["biwoco"]["pipeline"]
    assert load_pipeline_config(context) is None


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("repository", "biwoco", "owner/name"),
        ("account", "12345", "12 digits"),
        ("connection_arn", "arn:aws:iam::333333333333:role/x", "connection ARN"),
        (
            "connection_arn",
            "arn:aws:codeconnections:ap-southeast-1:444444444444:connection/"
            "00000000-0000-4000-8000-000000000000",
            "pipeline account",
        ),
        ("prod_environment", "dev", "must differ"),
        ("build_timeout_minutes", 1000, "between 5 and 480"),
        ("branch", "", "non-empty string"),
        ("build_timeout_minutes", "60", "integer"),
    ],
)
def test_bad_values_fail_with_their_path(key: str, value: Any, message: str) -> None:
    block = _block()
    block[key] = value
    with pytest.raises(ConfigError, match=message):
        parse_pipeline(block)


def test_unknown_and_missing_keys_fail() -> None:
    block = _block()
    block["brnach"] = "main"
    with pytest.raises(ConfigError, match=r"unknown keys \['brnach'\]"):
        parse_pipeline(block)
    block = _block()
    del block["branch"]
    with pytest.raises(ConfigError, match="missing key 'branch'"):
        parse_pipeline(block)


def test_environments_must_exist() -> None:
    block = _block()
    block["prod_environment"] = "staging"
    config = parse_pipeline(block)
    with pytest.raises(ConfigError, match="no environment named 'staging'"):
        config.environments(load_configs())
