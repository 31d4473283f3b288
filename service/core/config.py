"""Settings for every environment, read from the process environment by pydantic-settings.

`APP_ENV` (or `python service/main.py --env ...`) picks local, dev, prod or test. Outside local
and test the service refuses to start with a missing or placeholder secret, naming the setting.
"""

from __future__ import annotations

import ipaddress
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Environment(StrEnum):
    LOCAL = "local"
    DEV = "dev"
    PROD = "prod"
    TEST = "test"

    @property
    def is_deployed(self) -> bool:
        return self in (Environment.DEV, Environment.PROD)


# Values that mark a secret as "not really set": the local defaults below and common stand-ins.
PLACEHOLDER_SECRETS = frozenset(
    {
        "",
        "changeme",
        "change-me",
        "changethis",
        "replace-me",
        "replaceme",
        "secret",
        "local-development-only-secret-key",
    }
)
_LOCAL_JWT_SECRET = "local-development-only-secret-key"  # noqa: S105 - refused outside local/test

CommaList = Annotated[list[str], NoDecode]
RedisRole = Literal["state", "cache"]


def split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    app_env: Environment = Environment.LOCAL
    app_name: str = "biwoco"
    release: str | None = Field(default=None, validation_alias="APP_RELEASE")
    host: str = "127.0.0.1"
    port: int = 8000
    web_concurrency: int = Field(default=1, ge=1, le=64)
    log_level: str = "INFO"
    # Clients reach the API through CloudFront and the ALB, which each append to
    # X-Forwarded-For. FORWARDED_ALLOW_IPS: the peers whose X-Forwarded-* headers are believed,
    # as addresses or CIDR networks (deployed: the VPC's CIDR, where the ALB is).
    # FORWARDED_TRUSTED_HOPS: how many right-most X-Forwarded-For entries those proxies wrote;
    # the client is the left-most of them (deployed: 2; 0 ignores X-Forwarded-For).
    forwarded_allow_ips: str = "127.0.0.1"
    forwarded_trusted_hops: int = Field(default=0, ge=0, le=5)
    cors_origins: CommaList = Field(default_factory=list)
    # The web app's public URL: mails link to its pages (verification, password reset).
    web_app_url: str | None = None
    # A built web app (web/dist) served at / by this process, with single-page routing; local
    # and test only (deployed, CloudFront serves it from its own bucket).
    web_app_dir: str | None = None
    # Idle keep-alive connections stay open this long. Longer than the ALB's idle timeout
    # (60 s, infra/service.py): otherwise the server closes a connection the ALB is about to
    # reuse, and that request fails as a 502.
    http_keep_alive_seconds: int = Field(default=75, ge=1)
    max_request_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_request_header_bytes: int = Field(default=16_384, ge=1024)

    # MongoDB / Amazon DocumentDB
    mongodb_url: str = "mongodb://127.0.0.1:57017/"
    mongodb_db: str = "biwoco"
    mongodb_username: str | None = None
    mongodb_password: SecretStr | None = None
    mongodb_tls_ca_file: str | None = None
    mongodb_replica_set: str | None = None
    mongodb_read_preference: str | None = None
    # DocumentDB does not support retryable writes.
    mongodb_retry_writes: bool = False
    # Reaching the server: server selection and the connection's set-up.
    mongodb_timeout_ms: int = Field(default=5_000, ge=100)
    # Every operation's client-side bound (PyMongo's `timeoutMS`: selection, connection, the
    # command and its reply together): a stalled database is a 503 within it, well inside the
    # 5 s docs/operations.md promises. Migrations run without it (an index build takes minutes).
    mongodb_operation_timeout_ms: int = Field(default=2_500, ge=100)
    # Every request's database work together (`pymongo.timeout()`, DatabaseDeadlineMiddleware):
    # a compensating write after a timed-out one gets what is left, not a second bound.
    mongodb_request_timeout_ms: int = Field(default=4_000, ge=100)
    mongodb_max_pool_size: int = Field(default=100, ge=1)

    # Redis / Amazon ElastiCache. Two roles (docs/data-model.md): REDIS_URL holds what must
    # never be evicted (Celery broker and results, auth state, outbox; `noeviction` in AWS),
    # REDIS_CACHE_URL the tagged cache (`allkeys-lru`); it defaults to REDIS_URL (local).
    redis_url: str = "redis://127.0.0.1:56379/0"
    redis_password: SecretStr | None = None
    redis_cache_url: str | None = None
    # Defaults to REDIS_PASSWORD.
    redis_cache_password: SecretStr | None = None
    redis_ca_file: str | None = None
    # Namespace of every key this deployment writes (cache, auth workflows); tests isolate runs.
    redis_key_prefix: str = "biwoco"
    redis_timeout_seconds: float = Field(default=1.0, gt=0)
    redis_max_connections: int = Field(default=200, ge=1)
    # Process-local copies of the hot auth and cache keys, invalidated by Redis (see
    # service/core/db/redis/near_cache.py); 0 turns the near cache off.
    redis_near_cache_max_entries: int = Field(default=10_000, ge=0)
    redis_near_cache_max_age_seconds: float = Field(default=30.0, gt=0)

    # Tokens
    jwt_secret_key: SecretStr = SecretStr(_LOCAL_JWT_SECRET)
    jwt_key_id: str = "k1"
    # Keys that still verify during a rotation: JSON object {"kid": "secret"}.
    jwt_previous_keys: dict[str, SecretStr] = Field(default_factory=dict)
    jwt_issuer: str = "biwoco"
    jwt_audience: str = "biwoco-api"
    access_token_ttl_seconds: int = Field(default=900, ge=30)
    refresh_token_ttl_seconds: int = Field(default=14 * 24 * 3600, ge=60)

    # Cognito: tokens from this pool are accepted too when it is configured.
    cognito_region: str | None = None
    cognito_user_pool_id: str | None = None
    cognito_app_client_ids: CommaList = Field(default_factory=list)
    cognito_jwks_url: str | None = None

    # Sentry
    sentry_dsn: SecretStr | None = None
    sentry_environment: str | None = None
    sentry_traces_sample_rate: float = Field(default=0.0, ge=0, le=1)

    # S3
    s3_bucket: str = "biwoco-local"
    s3_region: str = "us-east-1"
    s3_endpoint_url: str | None = None
    s3_kms_key_id: str | None = None

    # Celery (worker and beat); the broker and the result store default to REDIS_URL.
    celery_broker_url: str | None = None
    celery_result_backend_url: str | None = None
    # Unacknowledged (acks_late) messages come back after this long: it must exceed the
    # longest task, its retries' countdowns included, or a running task is delivered twice.
    celery_visibility_timeout_seconds: int = Field(default=3600, ge=1)
    # How often the worker looks for messages of a dead worker that are past the timeout.
    celery_unacked_restore_interval_seconds: int = Field(default=10, ge=1)
    celery_task_soft_time_limit_seconds: int = Field(default=240, ge=1)
    celery_task_time_limit_seconds: int = Field(default=300, ge=1)
    celery_max_retries: int = Field(default=5, ge=0)
    celery_retry_backoff_base_seconds: float = Field(default=2.0, gt=0)
    celery_retry_backoff_max_seconds: float = Field(default=600.0, gt=0)
    celery_result_expires_seconds: int = Field(default=24 * 3600, ge=60)
    # How long a finished effect is remembered, so a redelivered task does not repeat it.
    celery_effect_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    celery_beat_schedule_file: str = Field(
        default_factory=lambda: str(Path(tempfile.gettempdir()) / "biwoco-celerybeat-schedule")
    )
    # Only one beat may run: it holds a Redis lock of this lifetime and renews it every tick.
    celery_beat_lock_ttl_seconds: int = Field(default=60, ge=2)
    celery_queue_depth_interval_seconds: float = Field(default=60.0, gt=0)

    # Mail: "log" only logs (local); "smtp" sends through the server below; "ses" through
    # Amazon SES (what the deployed tasks use).
    mail_backend: Literal["log", "smtp", "ses"] = "log"
    mail_from: str = "biwoco <no-reply@biwoco.local>"
    # A mail waiting in the outbox (Redis) is dropped after this long.
    mail_outbox_ttl_seconds: int = Field(default=2 * 24 * 3600, ge=60)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = True
    # Implicit TLS (port 465) instead of STARTTLS.
    smtp_ssl: bool = False
    smtp_ca_file: str | None = None
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    # SES: every mail goes through this configuration set (its event destinations and
    # suppression list); the region defaults to AWS_REGION, the endpoint is for tests.
    mail_ses_configuration_set: str | None = None
    mail_ses_region: str | None = None
    mail_ses_endpoint_url: str | None = None

    # Telemetry (OpenTelemetry traces and metrics, service/core/telemetry): off unless enabled.
    # Each process reports as <TELEMETRY_SERVICE_NAME>-<role> (api, worker, beat). Requests
    # without a sampled parent are traced at TELEMETRY_SAMPLE_RATIO; a parent's decision is kept
    # (across processes too: the worker follows the request that sent the task). The exporter:
    # "otlp" (OTLP/HTTP to the collector beside the process, deployed), "file" (OTLP JSON lines
    # under TELEMETRY_FILE_DIR, local: `python -m scripts.trace`), "none" (measured, not sent).
    telemetry_enabled: bool = False
    telemetry_service_name: str | None = None  # default APP_NAME
    telemetry_sample_ratio: float = Field(default=0.1, ge=0, le=1)
    telemetry_exporter: Literal["otlp", "file", "none"] = "otlp"
    telemetry_otlp_endpoint: str = "http://127.0.0.1:4318"
    # None: `<the temporary directory>/biwoco-telemetry`, resolved when the file exporter is
    # built. Never while settings load: finding the temporary directory writes a probe file,
    # and every process (on a read-only root, telemetry off) loads settings.
    telemetry_file_dir: str | None = None
    telemetry_metric_interval_seconds: float = Field(default=60.0, gt=0)
    # The API's http.server.request.duration through the SDK. Deployed it is off: CloudWatch
    # Logs derives the same metric from the access lines (metric filters on the api's log
    # group, infra/request_metrics.py), and the SDK's per-measurement work was most of
    # telemetry's cost on a cached request (docs/performance.md).
    telemetry_http_duration_metric: bool = True

    # Metrics: CloudWatch when enabled, else one log line per data point.
    metrics_namespace: str | None = None  # default Biwoco/<app_env>
    cloudwatch_metrics_enabled: bool = False
    cloudwatch_endpoint_url: str | None = None
    cloudwatch_region: str | None = None

    _split_lists = field_validator("cors_origins", "cognito_app_client_ids", mode="before")(
        split_commas
    )

    @field_validator("forwarded_allow_ips", mode="after")
    @classmethod
    def _check_forwarded_allow_ips(cls, value: str) -> str:
        # An entry that is neither an address nor a network would never match a peer: say so
        # at start-up instead.
        for entry in filter(None, (item.strip() for item in value.split(","))):
            if entry == "*":
                continue
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"FORWARDED_ALLOW_IPS: {entry!r} is not an IP address or CIDR network"
                ) from None
        return value

    @model_validator(mode="after")
    def _refuse_trusting_every_peer(self) -> Settings:
        trusted = {item.strip() for item in self.forwarded_allow_ips.split(",")}
        if self.app_env.is_deployed and "*" in trusted:
            raise ValueError(
                "FORWARDED_ALLOW_IPS=* lets any client forge its address; list the proxies' "
                "networks (the VPC CIDR)"
            )
        return self

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if not self.app_env.is_deployed:
            return self
        problems = []
        key = self.jwt_secret_key.get_secret_value()
        if key.lower() in PLACEHOLDER_SECRETS or len(key) < 32:
            problems.append("JWT_SECRET_KEY must be a real secret of at least 32 characters")
        for kid, old in self.jwt_previous_keys.items():
            if old.get_secret_value().lower() in PLACEHOLDER_SECRETS:
                problems.append(f"JWT_PREVIOUS_KEYS[{kid}] is a placeholder")
        password = self.mongodb_password.get_secret_value() if self.mongodb_password else None
        if password is not None and password.lower() in PLACEHOLDER_SECRETS:
            problems.append("MONGODB_PASSWORD is a placeholder")
        for name, secret in (
            ("REDIS_PASSWORD", self.redis_password),
            ("REDIS_CACHE_PASSWORD", self.redis_cache_password),
        ):
            if secret and secret.get_secret_value().lower() in PLACEHOLDER_SECRETS:
                problems.append(f"{name} is a placeholder")
        if problems:
            raise ValueError(f"refusing to start in {self.app_env}: " + "; ".join(problems))
        return self

    @model_validator(mode="after")
    def _web_app_dir_is_local(self) -> Settings:
        if self.web_app_dir and self.app_env.is_deployed:
            raise ValueError(
                f"WEB_APP_DIR is for local and test only; in {self.app_env} CloudFront "
                "serves the app"
            )
        return self

    @model_validator(mode="after")
    def _check_celery_timeouts(self) -> Settings:
        if self.celery_task_soft_time_limit_seconds >= self.celery_task_time_limit_seconds:
            raise ValueError("CELERY_TASK_SOFT_TIME_LIMIT_SECONDS must be below the hard limit")
        longest = self.celery_task_time_limit_seconds + self.celery_retry_backoff_max_seconds
        if self.celery_visibility_timeout_seconds <= longest:
            raise ValueError(
                "CELERY_VISIBILITY_TIMEOUT_SECONDS must exceed CELERY_TASK_TIME_LIMIT_SECONDS "
                "plus CELERY_RETRY_BACKOFF_MAX_SECONDS, or running tasks are delivered twice"
            )
        return self

    def redis_endpoint(self, role: RedisRole = "state") -> tuple[str, SecretStr | None]:
        """URL and password of the Redis for `role`: "state" (never evicted) or "cache"."""
        if role == "cache" and self.redis_cache_url:
            return self.redis_cache_url, self.redis_cache_password or self.redis_password
        return self.redis_url, self.redis_password

    @property
    def celery_broker(self) -> str:
        return self.celery_broker_url or self.redis_url

    @property
    def celery_result_backend(self) -> str:
        return self.celery_result_backend_url or self.redis_url

    @property
    def metrics_namespace_name(self) -> str:
        return self.metrics_namespace or f"Biwoco/{self.app_env.value}"

    @field_validator("sentry_dsn", mode="after")
    @classmethod
    def _placeholder_dsn_disables_sentry(cls, value: SecretStr | None) -> SecretStr | None:
        # The deployed secret starts as a placeholder until the team creates a Sentry project;
        # that must not stop the service, so it means "no Sentry" (init_sentry logs a warning).
        if value is not None and value.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
            return None
        return value

    @property
    def cognito_issuer(self) -> str | None:
        if not (self.cognito_region and self.cognito_user_pool_id):
            return None
        return (
            f"https://cognito-idp.{self.cognito_region}.amazonaws.com/{self.cognito_user_pool_id}"
        )

    @property
    def cognito_jwks(self) -> str | None:
        issuer = self.cognito_issuer
        if self.cognito_jwks_url:
            return self.cognito_jwks_url
        return f"{issuer}/.well-known/jwks.json" if issuer else None

    def mongodb_client_url(self) -> str:
        """The connection URL with the DocumentDB-relevant options merged into its query."""
        parts = urlsplit(self.mongodb_url)
        query = dict(parse_qsl(parts.query))
        query.setdefault("retryWrites", "true" if self.mongodb_retry_writes else "false")
        if self.mongodb_replica_set:
            query["replicaSet"] = self.mongodb_replica_set
        if self.mongodb_read_preference:
            query["readPreference"] = self.mongodb_read_preference
        if self.mongodb_tls_ca_file:
            query["tls"] = "true"
            query["tlsCAFile"] = self.mongodb_tls_ca_file
        return urlunsplit(parts._replace(query=urlencode(query)))


def load_settings_of(
    settings_class: type[SettingsT], env: str | None = None, **overrides: Any
) -> SettingsT:
    """`settings_class` for `env` (else APP_ENV, else local); keyword overrides win over the
    environment. The app's own class (core plus its modules') is `service.app.settings`'s."""
    unknown = set(overrides) - set(settings_class.model_fields)
    if unknown:  # `extra="ignore"` serves the environment, not a caller's typo
        raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
    if env is not None:
        overrides["app_env"] = env
    return settings_class(**overrides)


SettingsT = TypeVar("SettingsT", bound=Settings)
