"""Login, token refresh and revocation, email verification and password reset."""

from __future__ import annotations

import hashlib
import secrets
from urllib.parse import urlencode

from service.app.users.application.dto import TokenPair, UserDTO
from service.app.users.application.guard import AttemptGuard, account_key
from service.app.users.application.user_service import UserService, user_tag
from service.app.users.domain.errors import (
    AccountDisabledError,
    AlreadyVerifiedError,
    InvalidCredentialsError,
    InvalidOneTimeTokenError,
    LoginLockedError,
    RefreshTokenReusedError,
    TokenRevokedError,
    UserNotFoundError,
)
from service.app.users.domain.ports import (
    AuthStateStore,
    OneTimeGrant,
    OneTimeKind,
    RecoveryQueue,
    RecoveryRequest,
    Rotation,
    UserRepository,
)
from service.app.users.domain.user import Role, User, check_password_policy, normalize_email
from service.core.audit import AuditTrail
from service.core.auth import Principal
from service.core.clock import Clock
from service.core.helpers.caches import CacheManager
from service.core.helpers.mail import EmailOutbox, OutgoingEmail
from service.core.helpers.password import PasswordHasher
from service.core.helpers.token import (
    COGNITO_ALGORITHM,
    CognitoVerifier,
    JwtCodec,
    TokenType,
    new_token_id,
    token_algorithm,
)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AuthService:
    def __init__(
        self,
        *,
        repository: UserRepository,
        users: UserService,
        hasher: PasswordHasher,
        codec: JwtCodec,
        cognito: CognitoVerifier | None,
        auth_state: AuthStateStore,
        cache: CacheManager,
        outbox: EmailOutbox,
        recovery: RecoveryQueue,
        guard: AttemptGuard,
        audit: AuditTrail,
        access_ttl_seconds: int,
        refresh_ttl_seconds: int,
        verification_ttl_seconds: int,
        reset_ttl_seconds: int,
        clock: Clock,
        web_app_url: str | None = None,
    ) -> None:
        self._repository = repository
        self._clock = clock
        self._users = users
        self._hasher = hasher
        self._codec = codec
        self._cognito = cognito
        self._state = auth_state
        self._cache = cache
        self._outbox = outbox
        self._recovery = recovery
        self._guard = guard
        self._audit = audit
        self._access_ttl = access_ttl_seconds
        self._refresh_ttl = refresh_ttl_seconds
        self._verification_ttl = verification_ttl_seconds
        self._reset_ttl = reset_ttl_seconds
        self._web_app_url = web_app_url.rstrip("/") if web_app_url else None

    # -- tokens -----------------------------------------------------------------------------

    async def _issue(self, user: User, session_id: str, generation: int) -> tuple[TokenPair, str]:
        access = self._codec.encode(
            subject=user.id,
            token_type=TokenType.ACCESS,
            ttl_seconds=self._access_ttl,
            claims={
                "email": user.email,
                "role": user.role.value,
                "sid": session_id,
                "gen": generation,
            },
        )
        refresh = self._codec.encode(
            subject=user.id,
            token_type=TokenType.REFRESH,
            ttl_seconds=self._refresh_ttl,
            claims={"sid": session_id, "gen": generation},
        )
        pair = TokenPair(
            access_token=access.token,
            refresh_token=refresh.token,
            expires_in=self._access_ttl,
        )
        return pair, refresh.jti

    async def register(
        self, *, email: str, password: str, full_name: str, address: str | None = None
    ) -> UserDTO:
        """A new account and its verification mail, or an error and no account: when the mail
        cannot be queued (Redis or the broker down), the account just created is removed."""
        await self._guard.limit("register", account=normalize_email(email), address=address)
        user = await self._users.register(email=email, password=password, full_name=full_name)
        try:
            await self._recovery.submit(
                RecoveryRequest(OneTimeKind.VERIFY_EMAIL, normalize_email(user.email))
            )
        except Exception:
            await self._repository.delete_unverified(user.id)
            raise
        return user

    async def login(self, *, email: str, password: str, address: str | None = None) -> TokenPair:
        email_normalized = normalize_email(email)
        await self._guard.limit("login", account=email_normalized, address=address)
        # Counted and decided before the hasher runs: N concurrent attempts verify <= the limit.
        try:
            await self._guard.admit_password_attempt(email_normalized)
        except LoginLockedError:
            locked = await self._repository.get_by_email(email_normalized)
            await self._audit.record(
                "login.locked",
                account_id=locked.id if locked else None,
                address=address,
                account_key=account_key(email_normalized),
            )
            raise
        async with self._guard.verifying(email_normalized) as attempt:
            user = await self._repository.get_by_email(email_normalized)
            # Unknown accounts verify against a dummy hash: same work, same answer, same time.
            check = await self._hasher.verify(user.password_hash if user else None, password)
            if user is None or not check.ok:
                attempt.wrong()
                await self._audit.record(
                    "login.failure",
                    account_id=user.id if user else None,
                    address=address,
                    account_key=account_key(email_normalized),
                )
                raise InvalidCredentialsError("Wrong email or password")
        if not user.is_active:
            await self._audit.record("login.disabled", account_id=user.id, address=address)
            raise AccountDisabledError("This account is disabled")
        if check.new_hash is not None:
            user = await self._repository.update(user.id, {"password_hash": check.new_hash})
            await self._cache.invalidate(user_tag(user.id))
        generation = await self._state.generation(user.id)
        session_id = new_token_id()
        pair, refresh_id = await self._issue(user, session_id, generation)
        await self._state.start_session(session_id, refresh_id, self._refresh_ttl)
        await self._audit.record(
            "login.success", account_id=user.id, address=address, session_id=session_id
        )
        return pair

    async def refresh(self, refresh_token: str) -> TokenPair:
        claims = self._codec.decode(refresh_token, TokenType.REFRESH)
        session_id, user_id = str(claims.get("sid")), str(claims["sub"])
        user = await self._repository.get(user_id)
        generation = await self._state.generation(user_id)
        if user is None or not user.is_active or claims.get("gen") != generation:
            await self._state.end_session(session_id)
            raise TokenRevokedError("The session was revoked")
        pair, refresh_id = await self._issue(user, session_id, generation)
        outcome = await self._state.rotate_session(session_id, str(claims["jti"]), refresh_id)
        if outcome is Rotation.REUSED:
            await self._audit.record("refresh.reused", account_id=user_id, session_id=session_id)
            raise RefreshTokenReusedError("Refresh token already used; the session is revoked")
        if outcome is Rotation.MISSING:
            raise TokenRevokedError("The session has ended")
        return pair

    async def logout(self, principal: Principal) -> None:
        if principal.token_id and principal.expires_at:
            remaining = principal.expires_at - int(self._clock.now().timestamp())
            await self._state.deny(principal.token_id, max(1, remaining + 5))
        if principal.session_id:
            await self._state.end_session(principal.session_id)
        await self._audit.record("logout", account_id=principal.id, session_id=principal.session_id)

    async def logout_all(self, principal: Principal, address: str | None = None) -> None:
        """End every session of the caller's account, on every device (this one too)."""
        await self._state.revoke_all(principal.id)
        await self._audit.record("logout.all", account_id=principal.id, address=address)

    async def authenticate(self, token: str) -> Principal:
        """The core `Authenticator`: the principal a bearer token stands for."""
        if self._cognito is not None and token_algorithm(token) == COGNITO_ALGORITHM:
            return await self._authenticate_cognito(token)
        claims = self._codec.decode(token, TokenType.ACCESS)
        user_id, token_id = claims["sub"], claims["jti"]
        session_id = claims.get("sid")
        state = await self._state.session_state(user_id, token_id, session_id)
        if state.denied or not state.session_alive or claims.get("gen") != state.generation:
            raise TokenRevokedError("The token was revoked")
        return Principal(
            id=user_id,
            email=claims.get("email", ""),
            is_admin=claims.get("role") == Role.ADMIN,
            source="local",
            token_id=token_id,
            session_id=session_id,
            expires_at=claims["exp"],
        )

    async def _authenticate_cognito(self, token: str) -> Principal:
        assert self._cognito is not None
        claims = await self._cognito.verify(token)
        token_id = claims.get("jti")
        if isinstance(token_id, str) and await self._state.is_denied(token_id):
            raise TokenRevokedError("The token was revoked")
        user = await self._users.user_for_cognito(str(claims["sub"]), claims)
        if not user.is_active:
            raise TokenRevokedError("The account is disabled")
        return Principal(
            id=user.id,
            email=user.email,
            is_admin=user.role == Role.ADMIN,
            source="cognito",
            token_id=token_id if isinstance(token_id, str) else None,
            session_id=None,
            expires_at=int(claims["exp"]),
        )

    # -- one-time tokens --------------------------------------------------------------------
    # A token is bound to the account's credential state (`User.credential_version`): any
    # credential change (a password set by any path, a completed reset, a disable, a role
    # change) moves it on and every token minted before is dead. Redeeming is one conditional
    # update on that state, so of concurrent redemptions exactly one works.

    async def _one_time(self, kind: OneTimeKind, user: User, ttl: int) -> str:
        token = secrets.token_urlsafe(32)
        grant = OneTimeGrant(user_id=user.id, credential_version=user.credential_version)
        await self._state.put_one_time(kind, hash_token(token), grant, ttl)
        return token

    async def request_verification(self, user_id: str, address: str | None = None) -> None:
        await self._guard.limit("verify_resend", account=user_id, address=address)
        user = await self._repository.get(user_id)
        if user is None:
            raise UserNotFoundError("User not found")
        if user.is_verified:
            raise AlreadyVerifiedError("The email address is already verified")
        await self._recovery.submit(
            RecoveryRequest(OneTimeKind.VERIFY_EMAIL, user.email_normalized)
        )

    async def forgot_password(self, email: str, address: str | None = None) -> None:
        """The same work whether or not the account exists (rate limits, one stored request,
        one task): the worker decides whether a mail goes out (`deliver_recovery`)."""
        email_normalized = normalize_email(email)
        await self._guard.limit("forgot", account=email_normalized, address=address)
        await self._recovery.submit(RecoveryRequest(OneTimeKind.PASSWORD_RESET, email_normalized))

    async def deliver_recovery(self, request_id: str) -> bool:
        """The worker's half of a recovery or verification request: True when a mail was
        queued (the account exists and is eligible), False otherwise (nothing else differs)."""
        # Done only once handled: a task that failed half-way runs again on its retry (at least
        # once: a retry after a lost acknowledgement may mail a second, equally valid token).
        request = await self._recovery.load(request_id)
        if request is None:
            return False
        sent = await self._deliver(request)
        await self._recovery.done(request_id)
        return sent

    async def _deliver(self, request: RecoveryRequest) -> bool:
        user = await self._repository.get_by_email(request.email_normalized)
        if user is None or not user.is_active:
            return False
        if request.kind is OneTimeKind.PASSWORD_RESET and user.password_hash is not None:
            await self._send_reset(user)
            await self._audit.record("password.reset_mailed", account_id=user.id)
            return True
        if request.kind is OneTimeKind.VERIFY_EMAIL and not user.is_verified:
            await self._send_verification(user)
            return True
        return False

    async def _send_verification(self, user: User) -> None:
        token = await self._one_time(OneTimeKind.VERIFY_EMAIL, user, self._verification_ttl)
        hours = max(1, self._verification_ttl // 3600)
        # With a web app, the mail links to its verification page; API clients use the token.
        link = (
            f"Open this link to confirm it:\n\n{self._web_app_url}/verify-email?"
            f"{urlencode({'token': token})}\n\nOr send "
            if self._web_app_url
            else "Send "
        )
        await self._outbox.enqueue(
            OutgoingEmail(
                to=user.email,
                subject="Confirm your email address",
                text=(
                    f"Confirm your email address. {link}this token to "
                    "POST /api/v1/auth/verify-email:\n\n"
                    f"token: {token}\n\n"
                    f"It works once and expires in {hours} hour(s).\n"
                ),
                kind="verify_email",
            )
        )

    async def _send_reset(self, user: User) -> None:
        token = await self._one_time(OneTimeKind.PASSWORD_RESET, user, self._reset_ttl)
        minutes = max(1, self._reset_ttl // 60)
        await self._outbox.enqueue(
            OutgoingEmail(
                to=user.email,
                subject="Reset your password",
                text=(
                    "Someone asked to reset the password of your account. If it was you, send "
                    "this token with your new password to POST /api/v1/auth/password/reset:\n\n"
                    f"token: {token}\n\n"
                    f"It works once and expires in {minutes} minutes. If it was not you, "
                    "ignore this mail.\n"
                ),
                kind="password_reset",
            )
        )

    async def verify_email(self, token: str, address: str | None = None) -> UserDTO:
        await self._guard.limit("verify", account=None, address=address)
        grant = await self._state.take_one_time(OneTimeKind.VERIFY_EMAIL, hash_token(token))
        updated = (
            await self._repository.update_if_credentials(
                grant.user_id,
                {"is_verified": True},
                credential_version=grant.credential_version,
                new_credentials=False,
                unverified_only=True,  # a completed verification kills the other tokens
            )
            if grant is not None
            else None
        )
        if updated is None:
            raise InvalidOneTimeTokenError("The token is invalid, used or expired")
        await self._cache.invalidate(user_tag(updated.id))
        await self._audit.record("email.verified", account_id=updated.id)
        return UserDTO.from_user(updated)

    async def reset_password(
        self, token: str, new_password: str, address: str | None = None
    ) -> None:
        token_hash = hash_token(token)
        await self._guard.limit("reset", account=None, address=address)
        grant = await self._state.peek_one_time(OneTimeKind.PASSWORD_RESET, token_hash)
        user = await self._repository.get(grant.user_id) if grant else None
        if grant is None or user is None or user.credential_version != grant.credential_version:
            raise InvalidOneTimeTokenError("The token is invalid, used or expired")
        await self._guard.limit("reset", account=user.id, address=None)
        # Policy first, so a weak password does not burn the token.
        check_password_policy(new_password, user.email)
        if await self._state.take_one_time(OneTimeKind.PASSWORD_RESET, token_hash) != grant:
            raise InvalidOneTimeTokenError("The token is invalid, used or expired")
        password_hash = await self._hasher.hash(new_password)
        # Only while the credential state is the token's, and it moves on: every other reset
        # token of the account (and any verification token) is dead from here.
        updated = await self._repository.update_if_credentials(
            user.id,
            {"password_hash": password_hash},
            credential_version=grant.credential_version,
            new_credentials=True,
        )
        if updated is None:
            raise InvalidOneTimeTokenError("The token is invalid, used or expired")
        await self._state.revoke_all(user.id)
        await self._guard.recovered(user.email_normalized)
        await self._cache.invalidate(user_tag(user.id))
        await self._audit.record(
            "password.reset", account_id=user.id, address=address, sessions_ended=True
        )
