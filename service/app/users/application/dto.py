"""What the users application returns and accepts (pydantic: also the cache's JSON shape)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel

from service.app.users.domain.user import Role, User


class UserDTO(BaseModel):
    id: str
    email: str
    full_name: str
    role: Role
    is_active: bool
    is_verified: bool
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_user(cls, user: User) -> UserDTO:
        return cls(
            id=user.id,
            email=user.email,
            full_name=user.full_name,
            role=user.role,
            is_active=user.is_active,
            is_verified=user.is_verified,
            version=user.version,
            created_at=user.created_at,
            updated_at=user.updated_at,
        )


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
