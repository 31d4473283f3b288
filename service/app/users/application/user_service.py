"""Profiles, registration and administration of users."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from service.app.users.application.dto import UserDTO
from service.app.users.application.guard import AttemptGuard
from service.app.users.domain.errors import (
    EmailTakenError,
    IdentityTakenError,
    LoginLockedError,
    UserNotFoundError,
    WrongCurrentPasswordError,
)
from service.app.users.domain.ports import AuthStateStore, UserFilter, UserRepository
from service.app.users.domain.user import Role, User, check_password_policy, normalize_email
from service.core.audit import AuditTrail, SecurityEvent
from service.core.clock import Clock
from service.core.helpers.caches import CacheManager
from service.core.helpers.password import PasswordHasher
from service.core.pagination import Page, decode_cursor
from service.core.text import check_display_text

logger = logging.getLogger(__name__)


def user_tag(user_id: str) -> str:
    return f"user:{user_id}"


class UserService:
    def __init__(
        self,
        *,
        repository: UserRepository,
        hasher: PasswordHasher,
        auth_state: AuthStateStore,
        cache: CacheManager,
        cache_ttl_seconds: int,
        session_ttl_seconds: int,
        clock: Clock,
        guard: AttemptGuard,
        audit: AuditTrail,
    ) -> None:
        self._guard = guard
        self._audit = audit
        self._repository = repository
        self._clock = clock
        self._hasher = hasher
        self._auth_state = auth_state
        self._cache = cache
        self._session_ttl = session_ttl_seconds
        # Bound here so the TTL comes from settings; keys are built from `user_id` only.
        self.get_user: Callable[[str], Awaitable[UserDTO]] = self._cache.cached(
            ttl=cache_ttl_seconds, tags=["user:{user_id}"], model=UserDTO
        )(self._load_user)
        self.cognito_user_id: Callable[[str], Awaitable[str]] = self._cache.cached(
            ttl=cache_ttl_seconds, tags=["cognito:{sub}"]
        )(self._load_cognito_user_id)

    async def _load_user(self, user_id: str) -> UserDTO:
        user = await self._repository.get(user_id)
        if user is None:
            raise UserNotFoundError("User not found")
        return UserDTO.from_user(user)

    async def _load_cognito_user_id(self, sub: str) -> str:
        user = await self._repository.get_by_cognito_sub(sub)
        if user is None:
            raise UserNotFoundError("No account linked to this identity")
        return user.id

    async def _changed(self, user: User) -> UserDTO:
        await self._cache.invalidate(user_tag(user.id))
        return UserDTO.from_user(user)

    async def register(self, *, email: str, password: str, full_name: str) -> UserDTO:
        check_password_policy(password, email)
        user = self._new_user(
            email=email,
            full_name=full_name.strip(),
            password_hash=await self._hasher.hash(password),
            role=Role.USER,
            is_verified=False,
        )
        await self._repository.add(user)
        return UserDTO.from_user(user)

    def _new_user(
        self,
        *,
        email: str,
        full_name: str,
        password_hash: str | None,
        role: Role,
        is_verified: bool,
        cognito_sub: str | None = None,
    ) -> User:
        return User.new(
            id=str(uuid.uuid4()),
            email=email,
            full_name=full_name,
            password_hash=password_hash,
            role=role,
            is_verified=is_verified,
            now=self._clock.now(),
            cognito_sub=cognito_sub,
        )

    async def update_profile(
        self,
        user_id: str,
        *,
        expected_version: int | None,
        full_name: str | None = None,
        current_password: str | None = None,
        new_password: str | None = None,
        address: str | None = None,
    ) -> UserDTO:
        changes: dict[str, Any] = {}
        if full_name is not None:
            changes["full_name"] = full_name.strip()
        if new_password is not None:
            user = await self._repository.get(user_id)
            if user is None:
                raise UserNotFoundError("User not found")
            check_password_policy(new_password, user.email)
            # Re-authentication: rate-limited, and counted in the account's lock-out as a
            # sign-in is, before the hasher runs.
            await self._guard.limit("reauth", account=user_id, address=address)
            try:
                await self._guard.admit_password_attempt(user.email_normalized)
            except LoginLockedError:
                await self._audit.record("reauth.locked", account_id=user_id, address=address)
                raise
            async with self._guard.verifying(user.email_normalized) as attempt:
                check = await self._hasher.verify(user.password_hash, current_password or "")
                if not check.ok:
                    attempt.wrong()
                    await self._audit.record("reauth.failure", account_id=user_id, address=address)
                    raise WrongCurrentPasswordError("The current password is wrong")
            changes["password_hash"] = await self._hasher.hash(new_password)
        updated = await self._repository.update(
            user_id,
            changes,
            expected_version=expected_version,
            # A new password moves the credential state on: outstanding reset tokens die.
            new_credentials=new_password is not None,
        )
        if new_password is not None:
            # A new password ends every session, including the one that changed it.
            await self._auth_state.revoke_all(user_id)
            await self._audit.record(
                "password.changed", account_id=user_id, address=address, sessions_ended=True
            )
        return await self._changed(updated)

    async def list_users(
        self, *, limit: int, cursor: str | None, where: UserFilter
    ) -> Page[UserDTO]:
        after = decode_cursor(cursor) if cursor else None
        if where.email_prefix:
            where = UserFilter(
                role=where.role,
                is_active=where.is_active,
                email_prefix=normalize_email(where.email_prefix),
            )
        page = await self._repository.list(limit=limit, after=after, where=where)
        return page.map(UserDTO.from_user)

    async def admin_update(
        self,
        user_id: str,
        *,
        expected_version: int | None,
        role: Role | None = None,
        is_active: bool | None = None,
        actor_id: str | None = None,
    ) -> UserDTO:
        changes: dict[str, Any] = {}
        if role is not None:
            changes["role"] = role
        if is_active is not None:
            changes["is_active"] = is_active
        updated = await self._repository.update(
            user_id,
            changes,
            expected_version=expected_version,
            # A disable (or a role change) also kills outstanding reset and verification tokens.
            new_credentials=bool(changes),
        )
        if changes:
            # Role and status live in access tokens and sessions: end them at once.
            await self._auth_state.revoke_all(user_id)
            await self._audit.record(
                "admin.update",
                account_id=user_id,
                actor_id=actor_id,
                changes={k: str(v) for k, v in changes.items()},
                sessions_ended=True,
            )
        return await self._changed(updated)

    async def delete(self, user_id: str, actor_id: str | None = None) -> None:
        user = await self._repository.get(user_id)
        if user is None or not await self._repository.delete(user_id):
            raise UserNotFoundError("User not found")
        await self._forget(user)
        await self._audit.record("admin.delete", account_id=user_id, actor_id=actor_id)

    async def security_events(
        self, user_id: str, *, limit: int, cursor: str | None
    ) -> Page[SecurityEvent]:
        """The account's audit trail, newest first (admin)."""
        return await self._audit.page(user_id, limit=limit, cursor=cursor)

    async def delete_unverified_older_than(self, max_age: timedelta) -> int:
        """The periodic purge: accounts left unverified for longer than `max_age` are removed,
        and their tokens and cached reads go with them, as for any deletion."""
        cutoff = self._clock.now() - max_age
        removed = await self._repository.delete_unverified_created_before(cutoff)
        for user in removed:
            await self._forget(user)
        logger.info(
            "unverified accounts removed",
            extra={"deleted": len(removed), "cutoff": cutoff.isoformat()},
        )
        return len(removed)

    async def _forget(self, user: User) -> None:
        await self._auth_state.revoke_all(user.id, forget_after=self._session_ttl)
        tags = [user_tag(user.id)] + ([f"cognito:{user.cognito_sub}"] if user.cognito_sub else [])
        await self._cache.invalidate(*tags)

    async def ensure_admin(
        self,
        *,
        email: str,
        password: str | None,
        full_name: str = "Administrator",
    ) -> tuple[UserDTO, bool]:
        """Promote the account with this email to admin, or create it; (user, created)."""
        existing = await self._repository.get_by_email(normalize_email(email))
        if existing is not None:
            if existing.is_admin and existing.is_active:
                return UserDTO.from_user(existing), False
            updated = await self._repository.update(
                existing.id,
                {"role": Role.ADMIN, "is_active": True, "is_verified": True},
                new_credentials=True,
            )
            await self._auth_state.revoke_all(existing.id)
            await self._audit.record("admin.promoted", account_id=existing.id)
            return await self._changed(updated), False
        if password is None:
            raise ValueError("a password is needed to create the admin account")
        check_password_policy(password, email)
        user = self._new_user(
            email=email,
            full_name=full_name,
            password_hash=await self._hasher.hash(password),
            role=Role.ADMIN,
            is_verified=True,
        )
        await self._repository.add(user)
        return UserDTO.from_user(user), True

    async def user_for_cognito(self, sub: str, claims: dict[str, Any]) -> UserDTO:
        """The local account linked to a Cognito `sub`, created on first sight."""
        try:
            return await self.get_user(await self.cognito_user_id(sub))
        except UserNotFoundError:
            pass
        user = self._new_user(
            email=_cognito_email(sub, claims),
            full_name=_cognito_name(claims),
            password_hash=None,  # signs in through Cognito only
            role=Role.USER,
            is_verified=True,  # the pool verified the identity
            cognito_sub=sub,
        )
        try:
            await self._repository.add(user)
        except IdentityTakenError:  # a concurrent first request linked it already
            linked = await self._repository.get_by_cognito_sub(sub)
            if linked is None:
                raise
            return UserDTO.from_user(linked)
        except EmailTakenError as error:
            # Never link by email: a pool that lets users pick any address would take over
            # the local account.
            raise EmailTakenError(
                "A local account already uses this email; it cannot be linked automatically"
            ) from error
        logger.info("cognito identity linked", extra={"user_id": user.id})
        await self._cache.invalidate(f"cognito:{sub}")
        return UserDTO.from_user(user)


def _cognito_name(claims: dict[str, Any]) -> str:
    """The pool's name for the account, held to the display-text rules every client-sent name
    meets (an identity provider's claims are input too); empty when it breaks them."""
    try:
        return check_display_text(
            str(claims.get("name") or claims.get("username") or ""), max_length=200
        )
    except ValueError:
        return ""


def _cognito_email(sub: str, claims: dict[str, Any]) -> str:
    for name in ("email", "username"):
        value = claims.get(name)
        if isinstance(value, str) and "@" in value and len(value) <= 254:
            return value
    return f"cognito+{sub}@users.invalid"
