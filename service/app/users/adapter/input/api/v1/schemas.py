"""Request and response bodies of the users API. Unknown fields are rejected (422), so a
client can never slip `role`, `is_active` or `is_verified` into a registration."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

import email_validator
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from service.app.users.domain.user import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, Role
from service.core.text import DisplayText

MAX_FULL_NAME_LENGTH = 200
# A password checked against the policy (its length, as the document says; not the email).
NewPassword = Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)
# A password checked against a stored one (an old account may predate the policy).
Password = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# email-validator (behind EmailStr) refuses addresses in special-use domains (RFC 6761: `.test`,
# `.invalid`, ...); the document says so, from the same list, so no valid-looking address is
# refused unannounced.
_SPECIAL_USE = "|".join(re.escape(name) for name in email_validator.SPECIAL_USE_DOMAIN_NAMES)
NOT_SPECIAL_USE: dict[str, Any] = {
    "not": {"pattern": rf"(?i)[@.]({_SPECIAL_USE})\.?$"},
    "description": "An email address outside the special-use domains (RFC 6761)",
}


class RegisterRequest(Strict):
    email: EmailStr = Field(max_length=254, json_schema_extra=NOT_SPECIAL_USE)
    password: str = NewPassword
    full_name: Annotated[str, DisplayText(MAX_FULL_NAME_LENGTH)]


class LoginRequest(Strict):
    email: str = Field(min_length=1, max_length=254)
    password: str = Password


class RefreshRequest(Strict):
    refresh_token: str = Field(min_length=1, max_length=8192)


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int


class OneTimeTokenRequest(Strict):
    token: str = Field(min_length=1, max_length=512)


class ForgotPasswordRequest(Strict):
    email: str = Field(min_length=1, max_length=254)


class ResetPasswordRequest(Strict):
    token: str = Field(min_length=1, max_length=512)
    new_password: str = NewPassword


class AcceptedResponse(BaseModel):
    status: str = "accepted"


class UpdateMeRequest(Strict):
    full_name: Annotated[str, DisplayText(MAX_FULL_NAME_LENGTH)] | None = None
    current_password: str | None = Field(default=None, max_length=MAX_PASSWORD_LENGTH)
    new_password: str | None = Field(
        default=None, min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH
    )


class AdminUpdateRequest(Strict):
    role: Role | None = None
    is_active: bool | None = None


class UserResponse(BaseModel):
    id: str
    email: str
    full_name: str
    role: Role
    is_active: bool
    is_verified: bool
    created_at: datetime
    updated_at: datetime


class SecurityEventResponse(BaseModel):
    id: str
    action: str
    account_id: str | None
    created_at: datetime
    address: str | None
    request_id: str | None
    detail: dict[str, Any]


class SecurityEventPageResponse(BaseModel):
    items: list[SecurityEventResponse]
    next_cursor: str | None


class UserPageResponse(BaseModel):
    items: list[UserResponse]
    next_cursor: str | None
