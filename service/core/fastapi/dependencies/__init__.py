from service.core.auth.authenticator import Authenticator
from service.core.auth.principal import Principal
from service.core.fastapi.dependencies.dependencies import container_of, get_authenticator
from service.core.fastapi.dependencies.injection import Inject
from service.core.fastapi.dependencies.permission import (
    CurrentPrincipal,
    IsAdmin,
    IsAuthenticated,
    IsSelf,
    Permission,
    RequireAdmin,
    RequirePermissions,
    current_principal,
)

__all__ = [
    "Authenticator",
    "CurrentPrincipal",
    "Inject",
    "IsAdmin",
    "IsAuthenticated",
    "IsSelf",
    "Permission",
    "Principal",
    "RequireAdmin",
    "RequirePermissions",
    "container_of",
    "current_principal",
    "get_authenticator",
]
