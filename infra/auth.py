"""Auth: the Cognito user pool, the front-end app client and the hosted domain."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from infra.config import EnvConfig
from infra.mail import cognito_email
from infra.nag import acknowledge

_MFA = {"OFF": cognito.Mfa.OFF, "OPTIONAL": cognito.Mfa.OPTIONAL, "REQUIRED": cognito.Mfa.REQUIRED}


class Auth(Construct):
    """Email sign-in, a strong password policy, MFA per environment (TOTP only, no SMS),
    account recovery by email, and one public app client (authorization code + PKCE)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvConfig) -> None:
        super().__init__(scope, construct_id)
        auth = config.auth
        mfa = _MFA[auth.mfa]
        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            user_pool_name=f"{config.prefix}-users",
            sign_in_aliases=cognito.SignInAliases(email=True, username=False),
            sign_in_case_sensitive=False,
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            keep_original=cognito.KeepOriginalAttrs(email=True),
            self_sign_up_enabled=True,
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            mfa=mfa,
            mfa_second_factor=(
                cognito.MfaSecondFactor(otp=True, sms=False) if mfa is not cognito.Mfa.OFF else None
            ),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            email=cognito_email(config),
            feature_plan=cognito.FeaturePlan.PLUS
            if auth.threat_protection
            else cognito.FeaturePlan.ESSENTIALS,
            standard_threat_protection_mode=(
                cognito.StandardThreatProtectionMode.FULL_FUNCTION
                if auth.threat_protection
                else None
            ),
            deletion_protection=config.production,
            removal_policy=config.removal_policy,
        )
        self.app_client = self.user_pool.add_client(
            "AppClient",
            user_pool_client_name=f"{config.prefix}-app",
            generate_secret=False,  # a public client (SPA / mobile): PKCE instead
            auth_flows=cognito.AuthFlow(user_srp=True),
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=[
                    cognito.OAuthScope.OPENID,
                    cognito.OAuthScope.EMAIL,
                    cognito.OAuthScope.PROFILE,
                ],
                callback_urls=list(auth.callback_urls),
                logout_urls=list(auth.logout_urls),
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            access_token_validity=Duration.minutes(60),
            id_token_validity=Duration.minutes(60),
            refresh_token_validity=Duration.days(30),
        )
        self.domain = self.user_pool.add_domain(
            "Domain",
            cognito_domain=cognito.CognitoDomainOptions(domain_prefix=auth.domain_prefix),
            managed_login_version=cognito.ManagedLoginVersion.NEWER_MANAGED_LOGIN,
        )
        # The newer managed login serves a client's pages only once a branding style is
        # attached to that client; without one the hosted sign-in answers with an error.
        # Cognito's own default look, editable later in the console's branding editor.
        self.branding = cognito.CfnManagedLoginBranding(
            self,
            "AppClientBranding",
            user_pool_id=self.user_pool.user_pool_id,
            client_id=self.app_client.user_pool_client_id,
            use_cognito_provided_values=True,
        )
        self.branding.node.add_dependency(self.domain)
        if mfa is not cognito.Mfa.REQUIRED:
            acknowledge(
                self.user_pool,
                "AwsSolutions-COG2",
                f"MFA is {auth.mfa} in the {config.name} environment by configuration "
                "(testers sign up and in with throwaway accounts); prod requires TOTP MFA.",
            )
        if not auth.threat_protection:
            acknowledge(
                self.user_pool,
                "AwsSolutions-COG8",
                f"Threat protection (COG3) needs the Cognito Plus feature plan, priced per active "
                f"user; the {config.name} environment holds only test users, prod enables "
                "it in FULL_FUNCTION mode.",
            )

    @property
    def client_ids(self) -> list[str]:
        return [self.app_client.user_pool_client_id]
