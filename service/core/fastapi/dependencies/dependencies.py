"""Where a request finds its app's composition (`ServiceContainer`), and through it the
`Authenticator` a module exports for `CoreContainer.authenticator`."""

from __future__ import annotations

from fastapi import Request

from service.core.auth.authenticator import Authenticator
from service.core.composition import ServiceContainer
from service.core.container import CoreContainer


def container_of(request: Request) -> ServiceContainer:
    """The composition of the app serving the request (set once by the app factory)."""
    container: ServiceContainer = request.app.state.container
    return container


def get_authenticator(request: Request) -> Authenticator:
    return container_of(request).provided(CoreContainer.authenticator)
