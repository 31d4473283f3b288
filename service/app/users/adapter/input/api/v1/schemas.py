"""Request and response bodies of the users API. Unknown fields are rejected (422), so a
client can never slip `role`, `is_active` or `is_verified` into a registration."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from service.app.users.domain.user import MAX_PASSWORD_LENGTH, Role
from service.core.text import DisplayText

MAX_FULL_NAME_LENGTH = 200
Password = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterRequest(Strict):
    email: EmailStr = Field(max_length=254)
    password: str = Password
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
    new_password: str = Password


class AcceptedResponse(BaseModel):
    status: str = "accepted"


class UpdateMeRequest(Strict):
    full_name: Annotated[str, DisplayText(MAX_FULL_NAME_LENGTH)] | None = None
    current_password: str | None = Field(default=None, max_length=MAX_PASSWORD_LENGTH)
    new_password: str | None = Field(default=None, max_length=MAX_PASSWORD_LENGTH)


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
