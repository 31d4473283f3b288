"""Typed configuration, one :class:`EnvConfig` per environment, read from ``cdk.json``.

The ``biwoco`` context key of ``cdk.json`` holds ``environments.<name>``; each block is
parsed by pydantic into frozen models, strictly (JSON types only: no ``"2"`` for 2, unknown
or missing keys are errors) and range-checked, so a typo in ``cdk.json`` fails synthesis
with the offending path instead of silently falling back to a default.
"""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from aws_cdk import RemovalPolicy
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from pydantic import model_validator as _model_validator

CONTEXT_KEY = "biwoco"
REPO_ROOT = Path(__file__).resolve().parent.parent
CDK_JSON = REPO_ROOT / "cdk.json"

MfaMode = Literal["OFF", "OPTIONAL", "REQUIRED"]
CacheEngine = Literal["valkey", "redis"]


class ConfigError(ValueError):
    """The ``cdk.json`` configuration is invalid."""


# A JSON string with at least one character.
Text = Annotated[str, StringConstraints(min_length=1)]


class Strict(BaseModel):
    """A block of ``cdk.json``: frozen, strict, no unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def checks(fn: Callable[[Any], None]) -> Any:
    """A model's cross-field checks (raising :class:`ConfigError`), run after parsing."""

    def run(self: Any) -> Any:
        fn(self)
        return self

    run.__name__ = fn.__name__
    return _model_validator(mode="after")(run)


class NetworkConfig(Strict):
    cidr: Text
    nat_gateways: int
    flow_log_retention_days: int

    @checks
    def _check(self) -> None:
        if not re.fullmatch(r"\d+\.\d+\.\d+\.\d+/(1[6-9]|2[0-4])", self.cidr):
            raise ConfigError(f"network.cidr must be an IPv4 /16../24 block, got {self.cidr}")
        if self.nat_gateways < 1:
            raise ConfigError("network.nat_gateways must be >= 1 (tasks need egress)")


class DocumentDbConfig(Strict):
    instance_type: Text
    instances: int
    port: int
    engine_version: Text
    backup_retention_days: int
    rotation_days: int

    @checks
    def _check(self) -> None:
        if self.backup_retention_days < 7:
            raise ConfigError("documentdb.backup_retention_days must be at least 7")
        if self.port == 27017:
            raise ConfigError("documentdb.port must not be the default 27017")
        if not 1 <= self.instances <= 16:
            raise ConfigError("documentdb.instances must be between 1 and 16")
        if self.rotation_days != 30:
            # Monthly cron windows, each secret on its own day (infra/documentdb.py): two
            # rate() schedules started by one deploy would rotate together.
            raise ConfigError(
                "documentdb.rotation_days: the two rotations run monthly on their own days "
                "(docs/operations.md); only 30 is supported"
            )


class CacheConfig(Strict):
    engine: CacheEngine
    engine_version: Text
    # The ``state`` group (broker, auth state; never evicted) and the ``cache`` group.
    node_type: Text
    cache_node_type: Text
    num_cache_clusters: int
    port: int
    snapshot_retention_days: int

    @checks
    def _check(self) -> None:
        if self.port == 6379:
            raise ConfigError("cache.port must not be the default 6379")
        if not 1 <= self.num_cache_clusters <= 6:
            raise ConfigError("cache.num_cache_clusters must be between 1 and 6")

    @property
    def multi_az(self) -> bool:
        return self.num_cache_clusters > 1


class UploadsConfig(Strict):
    noncurrent_version_expiration_days: int
    abort_incomplete_multipart_days: int


class AuthConfig(Strict):
    mfa: MfaMode
    threat_protection: bool
    domain_prefix: Text
    callback_urls: tuple[Text, ...]
    logout_urls: tuple[Text, ...]

    @checks
    def _check(self) -> None:
        if not re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", self.domain_prefix):
            raise ConfigError(f"auth.domain_prefix is not a valid prefix: {self.domain_prefix}")
        if not self.callback_urls:
            raise ConfigError("auth.callback_urls must list at least one URL")


class TaskSize(Strict):
    cpu: int
    memory_mib: int


class ScaledService(Strict):
    cpu: int
    memory_mib: int
    min_tasks: int
    max_tasks: int

    @checks
    def _check(self) -> None:
        if not 1 <= self.min_tasks <= self.max_tasks:
            raise ConfigError("min_tasks must be >= 1 and <= max_tasks")


class ServiceConfig(Strict):
    api: ScaledService
    worker: ScaledService
    beat: TaskSize
    api_cpu_target_percent: int
    api_requests_per_target: int
    # Waiting Celery messages per running worker task above which one (three) more start.
    worker_scale_out_backlog_per_task: int
    worker_scale_out_fast_backlog_per_task: int

    @checks
    def _check(self) -> None:
        if self.worker_scale_out_backlog_per_task <= 1:
            raise ConfigError("worker_scale_out_backlog_per_task must exceed 1 (scale-in is < 1)")
        if self.worker_scale_out_fast_backlog_per_task <= self.worker_scale_out_backlog_per_task:
            raise ConfigError(
                "worker_scale_out_fast_backlog_per_task must exceed ..._backlog_per_task"
            )


class DomainConfig(Strict):
    """A custom domain for CloudFront (an ACM certificate is issued in us-east-1)."""

    name: Text
    hosted_zone_id: Text
    hosted_zone_name: Text


class EdgeConfig(Strict):
    domain: DomainConfig | None
    # The regional id of the managed prefix list
    # ``com.amazonaws.global.cloudfront.origin-facing`` (differs per region; look it up
    # once with ``aws ec2 describe-managed-prefix-lists``). Kept in config so synthesis
    # never needs an AWS lookup.
    cloudfront_prefix_list_id: Text
    price_class: Literal["PriceClass_100", "PriceClass_200", "PriceClass_All"]
    waf_rate_limit_per_5_min: int

    @checks
    def _check(self) -> None:
        if not re.fullmatch(r"pl-[0-9a-f]{8,17}", self.cloudfront_prefix_list_id):
            raise ConfigError("edge.cloudfront_prefix_list_id must look like pl-xxxxxxxx")
        if self.waf_rate_limit_per_5_min < 10:
            raise ConfigError("edge.waf_rate_limit_per_5_min must be >= 10 (a WAF minimum)")


_DOMAIN = re.compile(r"(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


class MailConfig(Strict):
    """Amazon SES: the domain identity (Easy DKIM) the service and Cognito send from.

    With ``hosted_zone_id`` (a Route 53 public zone whose name is ``domain``) the DKIM
    records are created in it; without, the stack outputs them for the team's DNS.
    ``cognito_via_ses`` stays false until the identity is verified: Cognito refuses an
    unverified identity when the user pool is created or updated.
    """

    domain: Text
    from_address: Text
    from_name: Text
    hosted_zone_id: Text | None = None
    cognito_via_ses: bool = False

    @checks
    def _check(self) -> None:
        if not _DOMAIN.fullmatch(self.domain):
            raise ConfigError(f"mail.domain is not a lower-case domain name: {self.domain}")
        local, _, at = self.from_address.rpartition("@")
        if not local or at != self.domain:
            raise ConfigError(f"mail.from_address must be an address at {self.domain}")
        if any(c in self.from_name for c in '<>"\r\n'):
            raise ConfigError("mail.from_name must not hold <, >, quotes or line breaks")

    @property
    def sender(self) -> str:
        """The From header: display name and address."""
        return f"{self.from_name} <{self.from_address}>"


# The burn rates the SLO alarms page at (infra/slo.py): the SRE workbook's fast tier (2 % of a
# 30-day budget in one hour) and slow tier (5 % in six hours).
FAST_BURN_RATE = 14.4
SLOW_BURN_RATE = 6.0


class SloConfig(Strict):
    """The API's service-level objectives over a rolling 30 days, measured at the ALB.

    ``availability_percent`` of requests answer without a 5xx; ``latency_percent`` of the
    requests that reach a task are answered within ``latency_ms`` (95 and 1000: "p95 under
    one second").
    """

    availability_percent: float
    latency_percent: float
    latency_ms: int

    @checks
    def _check(self) -> None:
        for name in ("availability_percent", "latency_percent"):
            target = getattr(self, name)
            if not 50 <= target < 100:
                raise ConfigError(f"slo.{name} must be at least 50 and below 100, got {target}")
            # A budget so large that the fast tier's bad share would exceed 100 % never pages.
            if FAST_BURN_RATE * (100 - target) >= 100:
                raise ConfigError(
                    f"slo.{name}: a {100 - target:g} % error budget burnt {FAST_BURN_RATE}x "
                    "is more than every request; the burn-rate alarms could never fire"
                )
        if not 10 <= self.latency_ms <= 60_000:
            raise ConfigError(f"slo.latency_ms must be between 10 and 60000, got {self.latency_ms}")


class ObservabilityConfig(Strict):
    log_retention_days: int
    alarm_email: Text
    alb_5xx_percent: int
    p95_latency_ms: int
    queue_depth_alarm: int
    documentdb_connections_alarm: int
    slo: SloConfig


class TelemetryConfig(Strict):
    """OpenTelemetry in the tasks (infra/telemetry.py): the share of new traces sampled (a
    parent's decision is kept), the service's TELEMETRY_SAMPLE_RATIO."""

    sample_ratio: float

    @checks
    def _check(self) -> None:
        if not 0 <= self.sample_ratio <= 1:
            raise ConfigError(f"telemetry.sample_ratio must be in [0, 1], got {self.sample_ratio}")


class EnvConfig(Strict):
    name: Text
    account: Text | None
    region: Text
    availability_zones: tuple[Text, ...]
    production: bool
    cors_origins: tuple[Text, ...]
    network: NetworkConfig
    documentdb: DocumentDbConfig
    cache: CacheConfig
    uploads: UploadsConfig
    auth: AuthConfig
    service: ServiceConfig
    edge: EdgeConfig
    observability: ObservabilityConfig
    telemetry: TelemetryConfig
    mail: MailConfig
    tags: dict[str, str] = Field(default_factory=dict)

    @checks
    def _check(self) -> None:
        if self.name not in ("dev", "prod") and not re.fullmatch(r"[a-z][a-z0-9]{1,11}", self.name):
            raise ConfigError(f"environment name must be short lower-case, got {self.name}")
        if self.account is not None and not re.fullmatch(r"\d{12}", self.account):
            raise ConfigError(f"{self.name}.account must be 12 digits or null")
        if not 2 <= len(self.availability_zones) <= 3:
            raise ConfigError(f"{self.name}.availability_zones must list 2 or 3 zones")
        for az in self.availability_zones:
            if not az.startswith(self.region):
                raise ConfigError(f"{self.name}: zone {az} is not in region {self.region}")
        if self.production and self.service.api.min_tasks < 2:
            raise ConfigError(f"{self.name}: production runs at least 2 api tasks")
        if self.production and not self.cache.multi_az:
            raise ConfigError(f"{self.name}: production cache must be Multi-AZ")

    @property
    def prefix(self) -> str:
        """Physical-name prefix, e.g. ``biwoco-dev``."""
        return f"biwoco-{self.name}"

    @property
    def metrics_namespace(self) -> str:
        return f"Biwoco/{self.name}"

    @property
    def telemetry_namespace(self) -> str:
        """The CloudWatch namespace of the OpenTelemetry metrics (the collector's EMF)."""
        return f"Biwoco/{self.name}/Telemetry"

    @property
    def removal_policy(self) -> RemovalPolicy:
        """Stateful resources outlive a deleted stack in production, not in other envs."""
        return RemovalPolicy.RETAIN if self.production else RemovalPolicy.DESTROY


M = TypeVar("M", bound=BaseModel)


def _message(where: str, error: Any) -> str:
    """One pydantic error as ``<path>: <what is wrong>``, in this module's words."""
    loc = [where, *(str(part) for part in error["loc"])]
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"{'.'.join(loc[:-1])}: unknown keys [{loc[-1]!r}]"
    if kind == "missing":
        return f"{'.'.join(loc[:-1])}: missing key {loc[-1]!r}"
    path = ".".join(loc)
    if kind == "value_error":
        return str(error["ctx"]["error"])
    if kind == "literal_error":
        return f"{path}: must be one of {error['ctx']['expected']}, got {error['input']!r}"
    if kind in ("int_type", "int_parsing"):
        return f"{path}: expected an integer, got {error['input']!r}"
    if kind == "bool_type":
        return f"{path}: expected true/false, got {error['input']!r}"
    if kind in ("string_type", "string_too_short"):
        return f"{path}: expected a non-empty string, got {error['input']!r}"
    return f"{path}: {error['msg']}"


def parse_model(cls: type[M], data: Any, where: str) -> M:
    """``data`` (a ``cdk.json`` block) as a ``cls``; :class:`ConfigError` names what is wrong.

    Validated as JSON, strictly: the types of ``cdk.json`` only (a list is a tuple's JSON).
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected an object, got {data!r}")
    try:
        return cls.model_validate_json(json.dumps(data), strict=True)
    except ValidationError as exc:
        raise ConfigError(
            "; ".join(_message(where, e) for e in exc.errors(include_url=False))
        ) from None


def parse_env(name: str, data: dict[str, Any]) -> EnvConfig:
    """Parse one ``environments.<name>`` block."""
    return parse_model(EnvConfig, {"name": name, **data}, name)


def parse_context(context: dict[str, Any]) -> dict[str, EnvConfig]:
    """Parse the ``biwoco`` context block into ``{env name: EnvConfig}``."""
    envs = context.get("environments")
    if not isinstance(envs, dict) or not envs:
        raise ConfigError(f"context.{CONTEXT_KEY}.environments must be a non-empty object")
    return {name: parse_env(name, block) for name, block in envs.items()}


def read_cdk_json(path: Path = CDK_JSON) -> dict[str, Any]:
    """The ``context`` object of ``cdk.json``."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    context = raw.get("context", {})
    if not isinstance(context, dict):
        raise ConfigError(f"{path}: context must be an object")
    return typing.cast(dict[str, Any], context)


def load_configs(context: dict[str, Any] | None = None) -> dict[str, EnvConfig]:
    """Every environment's config, from the given context or from ``cdk.json``."""
    ctx = context if context is not None else read_cdk_json()
    block = ctx.get(CONTEXT_KEY)
    if not isinstance(block, dict):
        raise ConfigError(f"context key {CONTEXT_KEY!r} is missing from cdk.json")
    return parse_context(block)
