"""Bearer authentication for routers: core defines the contract, the app registers the resolver.

`service.core` never imports `service.app`: the app puts an object satisfying `Authenticator`
on `app.state.authenticator` (see `register_authenticator`), and `CurrentPrincipal` asks it to
turn the bearer token into a `Principal`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from fastapi import FastAPI, Request

from service.core.auth.principal import Principal

AUTHENTICATOR_STATE = "authenticator"


@runtime_checkable
class Authenticator(Protocol):
    async def authenticate(self, token: str) -> Principal:
        """The principal a bearer token stands for; raises an AppError (401/503) otherwise."""
        ...


def register_authenticator(app: FastAPI, authenticator: Authenticator) -> None:
    setattr(app.state, AUTHENTICATOR_STATE, authenticator)


def get_authenticator(request: Request) -> Authenticator:
    authenticator: Authenticator | None = getattr(request.app.state, AUTHENTICATOR_STATE, None)
    if authenticator is None:  # a wiring mistake, not a client error
        raise RuntimeError("no Authenticator registered on app.state")
    return authenticator
