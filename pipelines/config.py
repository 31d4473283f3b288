"""Typed configuration of the pipeline: the ``biwoco.pipeline`` block of ``cdk.json``.

Parsed as strictly as the environments (the same pydantic models and messages,
:mod:`infra.config`): unknown or
missing keys, a malformed repository, account or connection ARN fail synthesis with the
offending path.
"""

from __future__ import annotations

import re
from typing import Any

from infra.config import (
    CONTEXT_KEY,
    ConfigError,
    EnvConfig,
    Strict,
    Text,
    checks,
    parse_model,
    read_cdk_json,
)

PIPELINE_KEY = "pipeline"

_CONNECTION_ARN = re.compile(
    r"arn:aws[a-z-]*:(?P<service>codestar-connections|codeconnections):(?P<region>[a-z0-9-]+):"
    r"(?P<account>\d{12}):connection/[0-9a-f-]{36}"
)


class PipelineConfig(Strict):
    """Where the pipeline runs, what it watches, and which environments it deploys.

    ``dev_environment`` deploys automatically on every push; ``prod_environment`` only
    after a manual approval. Both name blocks of ``biwoco.environments``.
    """

    account: Text
    region: Text
    stack_name: Text
    pipeline_name: Text
    repository: Text
    branch: Text
    connection_arn: Text
    dev_environment: Text
    prod_environment: Text
    build_timeout_minutes: int

    @property
    def connection_service(self) -> str:
        """The IAM service prefix of the connection (``codeconnections`` for connections made
        since 2024, ``codestar-connections`` for older ones): IAM matches an action's prefix
        against the resource ARN's, so only this prefix's ``UseConnection`` works on it."""
        match = _CONNECTION_ARN.fullmatch(self.connection_arn)
        assert match is not None
        return match["service"]

    @checks
    def _check(self) -> None:
        if not re.fullmatch(r"\d{12}", self.account):
            raise ConfigError("pipeline.account must be 12 digits")
        if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", self.region):
            raise ConfigError(f"pipeline.region is not an AWS region: {self.region}")
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", self.repository):
            raise ConfigError(f"pipeline.repository must be owner/name, got {self.repository}")
        match = _CONNECTION_ARN.fullmatch(self.connection_arn)
        if match is None:
            raise ConfigError(
                "pipeline.connection_arn must be a CodeConnections (CodeStar) connection ARN"
            )
        if match["account"] != self.account:
            raise ConfigError("pipeline.connection_arn must belong to the pipeline account")
        if self.dev_environment == self.prod_environment:
            raise ConfigError("pipeline.dev_environment and prod_environment must differ")
        if not 5 <= self.build_timeout_minutes <= 480:
            raise ConfigError("pipeline.build_timeout_minutes must be between 5 and 480")

    def environments(self, configs: dict[str, EnvConfig]) -> tuple[EnvConfig, EnvConfig]:
        """The (dev, prod) environment configs; both need a concrete account."""
        picked: list[EnvConfig] = []
        for key in ("dev_environment", "prod_environment"):
            name = getattr(self, key)
            if name not in configs:
                raise ConfigError(f"pipeline.{key}: no environment named {name!r}")
            if configs[name].account is None:
                raise ConfigError(f"pipeline.{key}: environment {name!r} needs an account")
            picked.append(configs[name])
        return picked[0], picked[1]


def parse_pipeline(data: Any) -> PipelineConfig:
    """Parse the ``biwoco.pipeline`` block."""
    return parse_model(PipelineConfig, data, PIPELINE_KEY)


def load_pipeline_config(context: dict[str, Any] | None = None) -> PipelineConfig | None:
    """The pipeline config from the given context (or ``cdk.json``); ``None`` if absent."""
    ctx = context if context is not None else read_cdk_json()
    block = ctx.get(CONTEXT_KEY)
    if not isinstance(block, dict) or PIPELINE_KEY not in block:
        return None
    return parse_pipeline(block[PIPELINE_KEY])
