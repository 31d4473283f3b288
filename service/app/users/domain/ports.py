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
        self, user_id: str, changes: Mapping[str, Any], *, expected_version: int | None = None
    ) -> User:
        """Apply `changes` and bump `version`, only if the version still is `expected_version`
        (when given). Raises UserNotFoundError or VersionMismatchError."""
        ...

    async def delete(self, user_id: str) -> bool: ...

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

    async def login_failures(self, account_key: str) -> tuple[int, int]:
        """(failures so far, seconds until the window ends)."""
        ...

    async def record_login_failure(self, account_key: str, window_seconds: int) -> int: ...

    async def clear_login_failures(self, account_key: str) -> None: ...

    async def put_one_time(
        self, kind: OneTimeKind, token_hash: str, user_id: str, ttl_seconds: int
    ) -> None: ...

    async def peek_one_time(self, kind: OneTimeKind, token_hash: str) -> str | None: ...

    async def take_one_time(self, kind: OneTimeKind, token_hash: str) -> str | None:
        """The user id stored under the token, deleting it atomically (single use)."""
        ...
