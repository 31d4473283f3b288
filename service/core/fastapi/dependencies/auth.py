"""The authenticated caller as a FastAPI dependency, and the permission every module shares.

`CurrentPrincipal` authenticates the request's bearer token with the `Authenticator` a module
exports (`Module.authenticator`). FastAPI's per-request dependency cache calls it once however
many dependencies of a route ask for it, so a permission is an ordinary dependency taking
`principal: CurrentPrincipal` (`require_admin` below; a module's own, such as the users
module's `SelfOrAdmin`, also takes the path parameter it checks as a parameter).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.core.auth.authenticator import Authenticator
from service.core.auth.principal import Principal
from service.core.container import CoreContainer
from service.core.exceptions import ForbiddenError, UnauthorizedError
from service.core.fastapi.dependencies.injection import Inject

MAX_TOKEN_LENGTH = 8192

# The security scheme in OpenAPI (the docs' Authorize button). Without a token it answers None
# and `current_principal` raises the service's own 401 problem.
bearer_scheme = HTTPBearer(
    auto_error=False, description="Access token (service or Cognito)", scheme_name="HTTPBearer"
)
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
AuthenticatorDep = Annotated[Authenticator, Inject(CoreContainer.authenticator)]


async def current_principal(
    credentials: BearerCredentials, authenticator: AuthenticatorDep
) -> Principal:
    """The principal of the request's bearer token; 401 without a usable one."""
    if credentials is None or len(credentials.credentials) > MAX_TOKEN_LENGTH:
        raise UnauthorizedError("Bearer token required", code="not_authenticated")
    return await authenticator.authenticate(credentials.credentials)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def require_admin(principal: CurrentPrincipal) -> Principal:
    """403 unless the authenticating module says the principal is an administrator."""
    if not principal.is_admin:
        raise ForbiddenError("Administrators only", code="admin_required")
    return principal


RequireAdmin = Annotated[Principal, Depends(require_admin)]
