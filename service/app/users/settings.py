"""The users module's settings (env names as the fields, upper-case); core's are inherited."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator, model_validator

from service.core.config import PLACEHOLDER_SECRETS, Settings
from service.core.ratelimit import parse_rules

# Application rate limits (the `limits` library's notation; ";" separates several), per account
# (a digest of the email, or the signed-in user) and per client address (the one the forwarded
# headers middleware resolved). Beside them, the lock-out: login_max_failures per account.
DEFAULT_RATE_LIMITS: dict[str, str] = {
    "login.account": "30/hour",
    "login.address": "60/minute;600/hour",
    "register.account": "3/hour",
    "register.address": "10/hour",
    "forgot.account": "3/hour",
    "forgot.address": "20/hour",
    "reset.account": "10/hour",
    "reset.address": "30/hour",
    "verify.address": "30/hour",
    "verify_resend.account": "3/hour",
    "verify_resend.address": "20/hour",
    "reauth.account": "20/hour",
    "reauth.address": "60/hour",
}


class UsersSettings(Settings):
    # argon2id at OWASP's baseline (19 MiB, 2 passes, 1 lane): each concurrent hash holds its
    # memory, and the API's budget is under 200 MB per process. Stored hashes made with other
    # parameters are upgraded at the next login.
    password_hash_time_cost: int = Field(default=2, ge=1)
    password_hash_memory_kib: int = Field(default=19_456, ge=8 * 1024)
    password_hash_parallelism: int = Field(default=1, ge=1)
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_seconds: int = Field(default=900, ge=1)
    email_verification_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    password_reset_ttl_seconds: int = Field(default=3600, ge=60)
    user_cache_ttl_seconds: int = Field(default=300, ge=1)
    # RATE_LIMITS (JSON): rules given replace the defaults of the same name; "" turns one off.
    rate_limits: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    # Optional first admin, created (or promoted) at start-up; the password comes from a secret.
    bootstrap_admin_email: str | None = None
    bootstrap_admin_password: SecretStr | None = None
    # Accounts never verified are removed after this long, by a sweep every interval.
    unverified_account_max_age_days: int = Field(default=7, ge=1)
    unverified_account_cleanup_interval_seconds: float = Field(default=3600.0, gt=0)

    @field_validator("rate_limits", mode="after")
    @classmethod
    def _known_rate_limits(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - set(DEFAULT_RATE_LIMITS)
        if unknown:
            raise ValueError(f"unknown rate limit rules: {', '.join(sorted(unknown))}")
        rules = {**DEFAULT_RATE_LIMITS, **value}
        parse_rules(rules)  # a malformed limit is refused at start-up
        return rules

    @model_validator(mode="after")
    def _refuse_placeholder_admin_password(self) -> UsersSettings:
        password = self.bootstrap_admin_password
        if not self.app_env.is_deployed or password is None:
            return self
        value = password.get_secret_value()
        if value.lower() in PLACEHOLDER_SECRETS or len(value) < 12:
            raise ValueError(
                f"refusing to start in {self.app_env}: BOOTSTRAP_ADMIN_PASSWORD is a "
                "placeholder or shorter than 12"
            )
        return self
