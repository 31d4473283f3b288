from service.core.auth.authenticator import Authenticator
from service.core.auth.principal import Principal
from service.core.fastapi.dependencies.auth import (
    CurrentPrincipal,
    RequireAdmin,
    current_principal,
    require_admin,
)
from service.core.fastapi.dependencies.injection import Inject, container_of

__all__ = [
    "Authenticator",
    "CurrentPrincipal",
    "Inject",
    "Principal",
    "RequireAdmin",
    "container_of",
    "current_principal",
    "require_admin",
]
