from __future__ import annotations

import pytest
from pydantic import ValidationError

from service.app.settings import load_settings
from service.core.config import Environment

REAL_SECRET = "x" * 48


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_deployed_env_refuses_the_default_jwt_secret_and_names_it(
    env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JWT_SECRET_KEY", raising=False)
    with pytest.raises(ValidationError, match="JWT_SECRET_KEY"):
        load_settings(env)


@pytest.mark.parametrize("placeholder", ["changeme", "change-me", "secret", "short-key"])
def test_deployed_env_refuses_placeholder_secrets(placeholder: str) -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET_KEY"):
        load_settings("prod", jwt_secret_key=placeholder)


def test_deployed_env_refuses_placeholder_database_password() -> None:
    with pytest.raises(ValidationError, match="MONGODB_PASSWORD"):
        load_settings("prod", jwt_secret_key=REAL_SECRET, mongodb_password="changeme")


def test_local_and_test_envs_start_with_development_defaults() -> None:
    assert load_settings("local").app_env is Environment.LOCAL
    assert load_settings("test").app_env is Environment.TEST


def test_env_argument_wins_over_app_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "prod")
    assert load_settings("test").app_env is Environment.TEST


def test_comma_separated_lists_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COGNITO_APP_CLIENT_IDS", "abc, def,,ghi")
    monkeypatch.setenv("CORS_ORIGINS", "https://app.example.com")
    settings = load_settings("test")
    assert settings.cognito_app_client_ids == ["abc", "def", "ghi"]
    assert settings.cors_origins == ["https://app.example.com"]


def test_documentdb_options_are_merged_into_the_mongodb_url() -> None:
    settings = load_settings(
        "test",
        mongodb_url="mongodb://docdb.example:27018/?authSource=admin",
        mongodb_replica_set="rs0",
        mongodb_read_preference="secondaryPreferred",
        mongodb_tls_ca_file="/app/certs/global-bundle.pem",
    )
    url = settings.mongodb_client_url()
    for part in (
        "authSource=admin",
        "retryWrites=false",
        "replicaSet=rs0",
        "readPreference=secondaryPreferred",
        "tls=true",
        "tlsCAFile=%2Fapp%2Fcerts%2Fglobal-bundle.pem",
    ):
        assert part in url


def test_cognito_issuer_and_jwks_follow_the_pool() -> None:
    settings = load_settings("test", cognito_region="eu-west-1", cognito_user_pool_id="eu-west-1_A")
    assert settings.cognito_issuer == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_A"
    assert settings.cognito_jwks == settings.cognito_issuer + "/.well-known/jwks.json"
    assert load_settings("test").cognito_issuer is None


@pytest.mark.parametrize("dsn", ["replace-me", "", "changeme"])
def test_a_placeholder_sentry_dsn_means_no_sentry(dsn: str) -> None:
    assert load_settings("prod", jwt_secret_key=REAL_SECRET, sentry_dsn=dsn).sentry_dsn is None


def test_a_real_sentry_dsn_is_kept() -> None:
    dsn = "https://public@o1.ingest.sentry.io/2"
    settings = load_settings("prod", jwt_secret_key=REAL_SECRET, sentry_dsn=dsn)
    assert settings.sentry_dsn is not None
    assert settings.sentry_dsn.get_secret_value() == dsn


@pytest.mark.parametrize("trusted", ["127.0.0.1", "10.20.0.0/16", "10.20.0.0/16, fd00::/8", "*"])
def test_forwarded_allow_ips_takes_addresses_and_networks(trusted: str) -> None:
    assert load_settings("test", forwarded_allow_ips=trusted).forwarded_allow_ips == trusted


@pytest.mark.parametrize("trusted", ["alb.internal", "10.20.0.0/33", "10.20.0.0/16;10.30.0.0/16"])
def test_forwarded_allow_ips_refuses_what_uvicorn_would_silently_never_match(
    trusted: str,
) -> None:
    with pytest.raises(ValidationError, match="FORWARDED_ALLOW_IPS"):
        load_settings("test", forwarded_allow_ips=trusted)


@pytest.mark.parametrize("hops", [-1, 6])
def test_forwarded_trusted_hops_is_a_small_count(hops: int) -> None:
    with pytest.raises(ValidationError, match="forwarded_trusted_hops"):
        load_settings("test", forwarded_trusted_hops=hops)


def test_x_forwarded_for_is_ignored_unless_hops_are_configured() -> None:
    assert load_settings("test").forwarded_trusted_hops == 0


def test_a_deployed_env_never_trusts_every_peer() -> None:
    with pytest.raises(ValidationError, match="forge"):
        load_settings("prod", jwt_secret_key=REAL_SECRET, forwarded_allow_ips="127.0.0.1, *")


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_deployed_env_refuses_to_serve_the_web_app_itself(env: str) -> None:
    # Deployed, CloudFront serves the app from its bucket; the API process never does.
    with pytest.raises(ValidationError, match="WEB_APP_DIR"):
        load_settings(env, jwt_secret_key=REAL_SECRET, web_app_dir="/srv/web")
    assert load_settings("local", web_app_dir="/srv/web").web_app_dir == "/srv/web"
