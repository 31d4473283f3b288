"""The authenticated caller, as the module that authenticates describes it (framework-free)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    id: str
    email: str
    # Whether `IsAdmin` lets the principal through: the authenticating module decides (core
    # knows no roles).
    is_admin: bool = False
    # Where the token came from ("local" or "cognito") and what revokes it.
    source: str = "local"
    token_id: str | None = None
    session_id: str | None = None
    expires_at: int | None = None
