"""The User entity and the rules that need no framework: email normalization, password policy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from service.app.users.domain.errors import WeakPasswordError

MIN_PASSWORD_LENGTH = 10
# argon2 hashes any length, but an unbounded input is a cheap way to burn CPU.
MAX_PASSWORD_LENGTH = 256


class Role(StrEnum):
    USER = "user"
    ADMIN = "admin"


def normalize_email(email: str) -> str:
    """The form uniqueness and look-ups use: trimmed and lower-cased."""
    return email.strip().lower()


def check_password_policy(password: str, email: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPasswordError(f"Password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPasswordError(f"Password must have at most {MAX_PASSWORD_LENGTH} characters")
    if password.strip().lower() == normalize_email(email):
        raise WeakPasswordError("Password must not be the email address")


@dataclass(slots=True)
class User:
    id: str
    email: str
    email_normalized: str
    full_name: str
    password_hash: str | None
    role: Role
    is_active: bool
    is_verified: bool
    created_at: datetime
    updated_at: datetime
    version: int = 1
    cognito_sub: str | None = None
    # The security stamp: bumped by every credential change (password, disable, role), so a
    # recovery or verification token minted before it is dead after it.
    credential_version: int = 0

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @classmethod
    def new(
        cls,
        *,
        id: str,
        email: str,
        full_name: str,
        password_hash: str | None,
        role: Role,
        is_verified: bool,
        now: datetime,
        cognito_sub: str | None = None,
    ) -> User:
        """A new, active account at version 1, its email kept as given and normalized."""
        return cls(
            id=id,
            email=email.strip(),
            email_normalized=normalize_email(email),
            full_name=full_name,
            password_hash=password_hash,
            role=role,
            is_active=True,
            is_verified=is_verified,
            created_at=now,
            updated_at=now,
            cognito_sub=cognito_sub,
        )
