"""infra/auth.py: Cognito user pool, app client, domain."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from tests.infra.conftest import only

Tpl = Callable[[str, str], Template]
Raw = Callable[[str, str], dict[str, Any]]


@pytest.mark.parametrize(("env", "mfa"), [("dev", "OPTIONAL"), ("prod", "ON")])
def test_user_pool(template: Tpl, env: str, mfa: str) -> None:
    template(env, "auth").has_resource_properties(
        "AWS::Cognito::UserPool",
        {
            "UsernameAttributes": ["email"],
            "AutoVerifiedAttributes": ["email"],
            "MfaConfiguration": mfa,
            "EnabledMfas": ["SOFTWARE_TOKEN_MFA"],
            "AccountRecoverySetting": {
                "RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]
            },
            "Policies": {
                "PasswordPolicy": Match.object_like(
                    {
                        "MinimumLength": 12,
                        "RequireLowercase": True,
                        "RequireUppercase": True,
                        "RequireNumbers": True,
                        "RequireSymbols": True,
                    }
                )
            },
        },
    )


def test_prod_pool_is_protected_and_has_threat_protection(raw: Raw) -> None:
    pool = only(raw("prod", "auth"), "AWS::Cognito::UserPool")
    assert pool["DeletionPolicy"] == "Retain"
    assert pool["Properties"]["DeletionProtection"] == "ACTIVE"
    assert pool["Properties"]["UserPoolTier"] == "PLUS"
    assert pool["Properties"]["UserPoolAddOns"] == {"AdvancedSecurityMode": "ENFORCED"}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_app_client_is_public_code_flow(raw: Raw, env: str) -> None:
    client = only(raw(env, "auth"), "AWS::Cognito::UserPoolClient")["Properties"]
    assert client["GenerateSecret"] is False  # public client: PKCE, no secret
    assert client["AllowedOAuthFlows"] == ["code"]
    assert "implicit" not in client["AllowedOAuthFlows"]
    assert client["AllowedOAuthFlowsUserPoolClient"] is True
    assert set(client["AllowedOAuthScopes"]) == {"openid", "email", "profile"}
    assert client["PreventUserExistenceErrors"] == "ENABLED"
    assert client["SupportedIdentityProviders"] == ["COGNITO"]
    assert client["CallbackURLs"]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_domain(template: Tpl, env: str) -> None:
    template(env, "auth").has_resource_properties(
        "AWS::Cognito::UserPoolDomain", {"Domain": f"biwoco-{env}"}
    )


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_newer_managed_login_has_branding_for_the_app_client(raw: Raw, env: str) -> None:
    """The newer managed login shows nothing for a client without a branding style."""
    tpl = raw(env, "auth")
    domain = only(tpl, "AWS::Cognito::UserPoolDomain")["Properties"]
    assert domain["ManagedLoginVersion"] == 2
    branding = only(tpl, "AWS::Cognito::ManagedLoginBranding")["Properties"]
    client_id = next(
        k for k, v in tpl["Resources"].items() if v["Type"] == "AWS::Cognito::UserPoolClient"
    )
    assert branding["ClientId"] == {"Ref": client_id}
    assert branding["UseCognitoProvidedValues"] is True
