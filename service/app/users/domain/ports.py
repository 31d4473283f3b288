"""What the users application needs from the outside (adapters implement it): the user store
and the short-lived auth state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from service.app.users.domain.user import Role, User
from service.core.pagination import Cursor, Page


@dataclass(frozen=True, slots=True)
class UserFilter:
    role: Role | None = None
    is_active: bool | None = None
    email_prefix: str | None = None  # matched against the normalized email


class UserRepository(Protocol):
    async def add(self, user: User) -> None:
        """Insert; raises EmailTakenError / IdentityTakenError on a unique-key clash."""
        ...

    async def get(self, user_id: str) -> User | None: ...

    async def get_by_email(self, email_normalized: str) -> User | None: ...

    async def get_by_cognito_sub(self, sub: str) -> User | None: ...

    async def update(
        self,
        user_id: str,
        changes: Mapping[str, Any],
        *,
        expected_version: int | None = None,
        new_credentials: bool = False,
    ) -> User:
        """Apply `changes` and bump `version`, only if the version still is `expected_version`
        (when given); `new_credentials` also bumps `credential_version` (the security stamp).
        Raises UserNotFoundError or VersionMismatchError."""
        ...

    async def update_if_credentials(
        self,
        user_id: str,
        changes: Mapping[str, Any],
        *,
        credential_version: int,
        new_credentials: bool,
        unverified_only: bool = False,
    ) -> User | None:
        """Apply `changes` only while the account is active at `credential_version` (and still
        unverified, with `unverified_only`), in one atomic step; None when it no longer is."""
        ...

    async def delete(self, user_id: str) -> bool: ...

    async def delete_unverified(self, user_id: str) -> bool:
        """Remove the account only while it is still unverified (a registration undone)."""
        ...

    async def list(self, *, limit: int, after: Cursor | None, where: UserFilter) -> Page[User]: ...

    async def delete_unverified_created_before(self, cutoff: datetime) -> Sequence[User]:
        """Remove accounts still unverified that were created before `cutoff`; those removed."""
        ...


@dataclass(frozen=True, slots=True)
class SessionState:
    denied: bool  # the access token's jti is on the deny-list (logout)
    generation: int  # the user's current session generation (bumped to revoke everything)
    session_alive: bool  # the refresh family the token belongs to still exists


class Rotation(StrEnum):
    ROTATED = "rotated"
    MISSING = "missing"  # the family expired or was revoked
    REUSED = "reused"  # a refresh token that was already used: the family is now revoked


class OneTimeKind(StrEnum):
    VERIFY_EMAIL = "verify"
    PASSWORD_RESET = "reset"  # noqa: S105 - a key name


@dataclass(frozen=True, slots=True)
class OneTimeGrant:
    """What a one-time token stands for: the account, at the credential state it was minted in
    (the token is dead once `User.credential_version` moved on)."""

    user_id: str
    credential_version: int


class AuthStateStore(Protocol):
    async def session_state(
        self, user_id: str, token_id: str, session_id: str | None
    ) -> SessionState:
        """The token's revocation state, in one round trip."""
        ...

    async def is_denied(self, token_id: str) -> bool: ...

    async def generation(self, user_id: str) -> int: ...

    async def revoke_all(self, user_id: str, *, forget_after: int | None = None) -> None:
        """Invalidate every token of the user at once (bump the generation)."""
        ...

    async def deny(self, token_id: str, ttl_seconds: int) -> None: ...

    async def start_session(self, session_id: str, refresh_id: str, ttl_seconds: int) -> None: ...

    async def rotate_session(self, session_id: str, presented: str, new: str) -> Rotation: ...

    async def end_session(self, session_id: str) -> None: ...

    async def admit_login_attempt(
        self, account_key: str, *, limit: int, window_seconds: int
    ) -> tuple[bool, int]:
        """Count one attempt unless `limit` are counted already (failures and attempts in
        flight), in one atomic step; (admitted, seconds until the window ends). Of N concurrent
        attempts at most `limit` are admitted; a refused one is not counted."""
        ...

    async def refund_login_attempt(self, account_key: str) -> None:
        """Give back one counted attempt (a right password, or a verification cut short before a
        verdict); failures stay counted."""
        ...

    async def clear_login_failures(self, account_key: str) -> None: ...

    async def put_one_time(
        self, kind: OneTimeKind, token_hash: str, grant: OneTimeGrant, ttl_seconds: int
    ) -> None: ...

    async def peek_one_time(self, kind: OneTimeKind, token_hash: str) -> OneTimeGrant | None: ...

    async def take_one_time(self, kind: OneTimeKind, token_hash: str) -> OneTimeGrant | None:
        """The grant stored under the token, deleting it atomically (single use)."""
        ...


@dataclass(frozen=True, slots=True)
class RecoveryRequest:
    kind: OneTimeKind
    email_normalized: str


class RecoveryQueue(Protocol):
    """Recovery and verification mail asked for on the request path and decided off it: the
    request does the same work whether the account exists or not (store, enqueue); the worker
    looks the account up and mints the token only when it should."""

    async def submit(self, request: RecoveryRequest) -> None: ...

    async def load(self, request_id: str) -> RecoveryRequest | None:
        """The stored request (None once done or expired)."""
        ...

    async def done(self, request_id: str) -> None:
        """The request was handled: a redelivered task finds nothing."""
        ...
