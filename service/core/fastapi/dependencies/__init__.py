from service.core.auth.principal import Principal
from service.core.fastapi.dependencies.dependencies import (
    Authenticator,
    get_authenticator,
    register_authenticator,
)
from service.core.fastapi.dependencies.permission import (
    BEARER_SECURITY,
    CurrentPrincipal,
    IsAdmin,
    IsAuthenticated,
    IsSelf,
    Permission,
    RequireAdmin,
    RequirePermissions,
    authenticate_request,
    current_principal,
)

__all__ = [
    "BEARER_SECURITY",
    "Authenticator",
    "CurrentPrincipal",
    "IsAdmin",
    "IsAuthenticated",
    "IsSelf",
    "Permission",
    "Principal",
    "RequireAdmin",
    "RequirePermissions",
    "authenticate_request",
    "current_principal",
    "get_authenticator",
    "register_authenticator",
]
