"""The users module's core `Authenticator` is `AuthService` itself: its `authenticate` returns
the core `Principal`. This name only keeps the app's current wiring (server.py) importable
until the module declaration (#16) resolves the container's `authenticator` provider."""

from __future__ import annotations

from service.app.users.application.auth_service import AuthService

TokenAuthenticator = AuthService

__all__ = ["TokenAuthenticator"]
