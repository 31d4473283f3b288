"""The port the application uses to store users; adapters implement it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from service.app.users.domain.user import Role, User


@dataclass(frozen=True, slots=True)
class UserFilter:
    role: Role | None = None
    is_active: bool | None = None
    email_prefix: str | None = None  # matched against the normalized email


@dataclass(frozen=True, slots=True)
class PageAfter:
    """Keyset position: items strictly after (created_at, id) in newest-first order."""

    created_at: datetime
    id: str


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

    async def list(
        self, *, limit: int, after: PageAfter | None, where: UserFilter
    ) -> list[User]: ...

    async def delete_unverified_created_before(self, cutoff: datetime) -> Sequence[User]:
        """Remove accounts still unverified that were created before `cutoff`; those removed."""
        ...
