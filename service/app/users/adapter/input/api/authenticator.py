"""Turns a bearer token into the core `Principal` (the app's `Authenticator`)."""

from __future__ import annotations

from service.app.users.application.auth_service import AuthService
from service.app.users.application.dto import AuthenticatedUser
from service.core.fastapi.dependencies import Principal


class TokenAuthenticator:
    def __init__(self, auth_service: AuthService) -> None:
        self._auth = auth_service

    async def authenticate(self, token: str) -> Principal:
        user = await self._auth.authenticate(token)
        return Principal(
            id=user.id,
            email=user.email,
            is_admin=user.is_admin,
            source=user.source,
            token_id=user.token_id,
            session_id=user.session_id,
            expires_at=user.expires_at,
        )


def as_authenticated(principal: Principal) -> AuthenticatedUser:
    return AuthenticatedUser(
        id=principal.id,
        email=principal.email,
        is_admin=principal.is_admin,
        source=principal.source,
        token_id=principal.token_id,
        session_id=principal.session_id,
        expires_at=principal.expires_at,
    )
