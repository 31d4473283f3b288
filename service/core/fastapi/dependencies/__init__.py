from service.core.fastapi.dependencies.dependencies import (
    Authenticator,
    get_authenticator,
    register_authenticator,
)
from service.core.fastapi.dependencies.permission import (
    ROLE_ADMIN,
    ROLE_USER,
    CurrentPrincipal,
    IsAdmin,
    IsAuthenticated,
    IsSelf,
    Permission,
    Principal,
    RequireAdmin,
    RequirePermissions,
    SelfOrAdmin,
    current_principal,
)

__all__ = [
    "ROLE_ADMIN",
    "ROLE_USER",
    "Authenticator",
    "CurrentPrincipal",
    "IsAdmin",
    "IsAuthenticated",
    "IsSelf",
    "Permission",
    "Principal",
    "RequireAdmin",
    "RequirePermissions",
    "SelfOrAdmin",
    "current_principal",
    "get_authenticator",
    "register_authenticator",
]
