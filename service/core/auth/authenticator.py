"""What core asks of the module that authenticates: a bearer token's principal."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from service.core.auth.principal import Principal


@runtime_checkable
class Authenticator(Protocol):
    async def authenticate(self, token: str) -> Principal:
        """The principal a bearer token stands for; raises an AppError (401/503) otherwise."""
        ...
