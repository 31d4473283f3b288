"""Data: application secrets that are neither database nor cache credentials."""

from __future__ import annotations

from aws_cdk import SecretValue
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import EnvConfig
from infra.nag import acknowledge


class AppSecrets(Construct):
    """``JWT_SECRET_KEY`` (generated) and ``SENTRY_DSN`` (filled in by the team).

    Secrets use Secrets Manager's AWS managed key: a customer key owned by this stack
    would need key-policy grants naming the service stack's execution roles, which
    would make the data stack depend on the service stack.

    They live in the stateful stack so that redeploying or replacing the service never
    regenerates the JWT key (which would sign everyone out) or drops the DSN.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvConfig) -> None:
        super().__init__(scope, construct_id)
        removal = config.removal_policy
        self.jwt_secret_key = secretsmanager.Secret(
            self,
            "JwtSecretKey",
            secret_name=f"{config.prefix}/app/jwt-secret-key",
            description="JWT_SECRET_KEY: HMAC key that signs the service's tokens",
            removal_policy=removal,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
        )
        self.sentry_dsn = secretsmanager.Secret(
            self,
            "SentryDsn",
            secret_name=f"{config.prefix}/app/sentry-dsn",
            description="SENTRY_DSN: put the project's DSN here (empty disables Sentry)",
            removal_policy=removal,
            # Not a credential we generate: the team pastes the DSN from Sentry.
            secret_string_value=SecretValue.unsafe_plain_text("replace-me"),
        )
        acknowledge(
            self.jwt_secret_key,
            "AwsSolutions-SMG4",
            "JWT signing key: automatic rotation would invalidate every issued token at "
            "once; it is rotated by a planned change (new value, redeploy) instead.",
        )
        acknowledge(
            self.sentry_dsn,
            "AwsSolutions-SMG4",
            "The Sentry DSN is issued by Sentry, not by AWS; it cannot be rotated by a "
            "Secrets Manager rotation function and is replaced by hand when Sentry reissues it.",
        )
