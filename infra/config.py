"""Typed configuration, one :class:`EnvConfig` per environment, read from ``cdk.json``.

The ``biwoco`` context key of ``cdk.json`` holds ``environments.<name>``; each block is
parsed strictly into frozen dataclasses (unknown or missing keys are errors, values are
type-checked and range-checked), so a typo in ``cdk.json`` fails synthesis with the
offending path instead of silently falling back to a default.
"""

from __future__ import annotations

import dataclasses
import json
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from aws_cdk import RemovalPolicy

CONTEXT_KEY = "biwoco"
REPO_ROOT = Path(__file__).resolve().parent.parent
CDK_JSON = REPO_ROOT / "cdk.json"

MfaMode = Literal["OFF", "OPTIONAL", "REQUIRED"]
CacheEngine = Literal["valkey", "redis"]


class ConfigError(ValueError):
    """The ``cdk.json`` configuration is invalid."""


@dataclass(frozen=True)
class NetworkConfig:
    cidr: str
    nat_gateways: int
    flow_log_retention_days: int

    def __post_init__(self) -> None:
        if not re.fullmatch(r"\d+\.\d+\.\d+\.\d+/(1[6-9]|2[0-4])", self.cidr):
            raise ConfigError(f"network.cidr must be an IPv4 /16../24 block, got {self.cidr}")
        if self.nat_gateways < 1:
            raise ConfigError("network.nat_gateways must be >= 1 (tasks need egress)")


@dataclass(frozen=True)
class DocumentDbConfig:
    instance_type: str
    instances: int
    port: int
    engine_version: str
    backup_retention_days: int
    rotation_days: int

    def __post_init__(self) -> None:
        if self.backup_retention_days < 7:
            raise ConfigError("documentdb.backup_retention_days must be at least 7")
        if self.port == 27017:
            raise ConfigError("documentdb.port must not be the default 27017")
        if not 1 <= self.instances <= 16:
            raise ConfigError("documentdb.instances must be between 1 and 16")


@dataclass(frozen=True)
class CacheConfig:
    engine: CacheEngine
    engine_version: str
    # The ``state`` group (broker, auth state; never evicted) and the ``cache`` group.
    node_type: str
    cache_node_type: str
    num_cache_clusters: int
    port: int
    snapshot_retention_days: int

    def __post_init__(self) -> None:
        if self.port == 6379:
            raise ConfigError("cache.port must not be the default 6379")
        if not 1 <= self.num_cache_clusters <= 6:
            raise ConfigError("cache.num_cache_clusters must be between 1 and 6")

    @property
    def multi_az(self) -> bool:
        return self.num_cache_clusters > 1


@dataclass(frozen=True)
class UploadsConfig:
    noncurrent_version_expiration_days: int
    abort_incomplete_multipart_days: int


@dataclass(frozen=True)
class AuthConfig:
    mfa: MfaMode
    threat_protection: bool
    domain_prefix: str
    callback_urls: tuple[str, ...]
    logout_urls: tuple[str, ...]

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", self.domain_prefix):
            raise ConfigError(f"auth.domain_prefix is not a valid prefix: {self.domain_prefix}")
        if not self.callback_urls:
            raise ConfigError("auth.callback_urls must list at least one URL")


@dataclass(frozen=True)
class TaskSize:
    cpu: int
    memory_mib: int


@dataclass(frozen=True)
class ScaledService:
    cpu: int
    memory_mib: int
    min_tasks: int
    max_tasks: int

    def __post_init__(self) -> None:
        if not 1 <= self.min_tasks <= self.max_tasks:
            raise ConfigError("min_tasks must be >= 1 and <= max_tasks")


@dataclass(frozen=True)
class ServiceConfig:
    api: ScaledService
    worker: ScaledService
    beat: TaskSize
    api_cpu_target_percent: int
    api_requests_per_target: int
    # Waiting Celery messages per running worker task above which one (three) more start.
    worker_scale_out_backlog_per_task: int
    worker_scale_out_fast_backlog_per_task: int

    def __post_init__(self) -> None:
        if self.worker_scale_out_backlog_per_task <= 1:
            raise ConfigError("worker_scale_out_backlog_per_task must exceed 1 (scale-in is < 1)")
        if self.worker_scale_out_fast_backlog_per_task <= self.worker_scale_out_backlog_per_task:
            raise ConfigError(
                "worker_scale_out_fast_backlog_per_task must exceed ..._backlog_per_task"
            )


@dataclass(frozen=True)
class DomainConfig:
    """A custom domain for CloudFront (an ACM certificate is issued in us-east-1)."""

    name: str
    hosted_zone_id: str
    hosted_zone_name: str


@dataclass(frozen=True)
class EdgeConfig:
    domain: DomainConfig | None
    # The regional id of the managed prefix list
    # ``com.amazonaws.global.cloudfront.origin-facing`` (differs per region; look it up
    # once with ``aws ec2 describe-managed-prefix-lists``). Kept in config so synthesis
    # never needs an AWS lookup.
    cloudfront_prefix_list_id: str
    price_class: Literal["PriceClass_100", "PriceClass_200", "PriceClass_All"]
    waf_rate_limit_per_5_min: int

    def __post_init__(self) -> None:
        if not re.fullmatch(r"pl-[0-9a-f]{8,17}", self.cloudfront_prefix_list_id):
            raise ConfigError("edge.cloudfront_prefix_list_id must look like pl-xxxxxxxx")
        if self.waf_rate_limit_per_5_min < 10:
            raise ConfigError("edge.waf_rate_limit_per_5_min must be >= 10 (a WAF minimum)")


_DOMAIN = re.compile(r"(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


@dataclass(frozen=True)
class MailConfig:
    """Amazon SES: the domain identity (Easy DKIM) the service and Cognito send from.

    With ``hosted_zone_id`` (a Route 53 public zone whose name is ``domain``) the DKIM
    records are created in it; without, the stack outputs them for the team's DNS.
    ``cognito_via_ses`` stays false until the identity is verified: Cognito refuses an
    unverified identity when the user pool is created or updated.
    """

    domain: str
    from_address: str
    from_name: str
    hosted_zone_id: str | None = None
    cognito_via_ses: bool = False

    def __post_init__(self) -> None:
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


@dataclass(frozen=True)
class ObservabilityConfig:
    log_retention_days: int
    alarm_email: str
    alb_5xx_percent: int
    p95_latency_ms: int
    queue_depth_alarm: int
    documentdb_connections_alarm: int


@dataclass(frozen=True)
class EnvConfig:
    name: str
    account: str | None
    region: str
    availability_zones: tuple[str, ...]
    production: bool
    cors_origins: tuple[str, ...]
    network: NetworkConfig
    documentdb: DocumentDbConfig
    cache: CacheConfig
    uploads: UploadsConfig
    auth: AuthConfig
    service: ServiceConfig
    edge: EdgeConfig
    observability: ObservabilityConfig
    mail: MailConfig
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
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
    def removal_policy(self) -> RemovalPolicy:
        """Stateful resources outlive a deleted stack in production, not in other envs."""
        return RemovalPolicy.RETAIN if self.production else RemovalPolicy.DESTROY


T = TypeVar("T")


def _convert(tp: Any, value: Any, where: str) -> Any:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1:
            raise ConfigError(f"{where}: unsupported union type {tp}")
        return _convert(inner[0], value, where)
    if origin is Literal:
        if value not in get_args(tp):
            raise ConfigError(f"{where}: must be one of {get_args(tp)}, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (item_tp, _ellipsis) = get_args(tp)
        return tuple(_convert(item_tp, v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected an object, got {value!r}")
        return {str(k): str(v) for k, v in value.items()}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _build(tp, value, where)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where}: expected a non-empty string, got {value!r}")
        return value
    raise ConfigError(f"{where}: unsupported type {tp}")  # pragma: no cover


def _build(cls: type[T], data: Any, where: str) -> T:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected an object, got {data!r}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(data) - set(fields)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        if name not in data:
            has_default = (
                f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
            )
            if has_default:
                continue
            raise ConfigError(f"{where}: missing key {name!r}")
        kwargs[name] = _convert(hints[name], data[name], f"{where}.{name}")
    return cls(**kwargs)


def parse_env(name: str, data: dict[str, Any]) -> EnvConfig:
    """Parse one ``environments.<name>`` block."""
    return _build(EnvConfig, {"name": name, **data}, name)


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
