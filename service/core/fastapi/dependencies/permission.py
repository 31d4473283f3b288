"""The authenticated principal and small composable permissions used as FastAPI dependencies.

Endpoint parameters: `principal: CurrentPrincipal` (any authenticated caller), `RequireAdmin`
(403 unless the principal is an admin: the module that authenticates says who is). Compose
others with `&` and `|`, e.g. `Depends(RequirePermissions(IsAdmin() | IsSelf("owner_id")))`;
a module gives `IsSelf` its own not-found error, so a stranger's 404 is the one its missing
records get.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from service.core.auth.principal import Principal
from service.core.exceptions import AppError, ForbiddenError, NotFoundError, UnauthorizedError
from service.core.fastapi.dependencies.dependencies import get_authenticator
from service.core.fastapi.fast_dependencies import RequestDependency

MAX_TOKEN_LENGTH = 8192


# Where a request keeps its principal once authenticated: every dependency that asks for it
# (the principal itself, each permission) gets the one answer, at one authentication.
_PRINCIPAL_KEY = "service.principal"


class BearerPrincipal(HTTPBearer, RequestDependency):
    """The principal of the request's bearer token; 401 without one (or with a malformed one).
    Being the security scheme itself, it declares the scheme in OpenAPI (the docs' Authorize
    button) and costs one request-only dependency per request, not two."""

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        known: Principal | None = request.scope.get(_PRINCIPAL_KEY)
        if known is not None:
            return known
        scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_LENGTH:
            raise UnauthorizedError("Bearer token required", code="not_authenticated")
        principal = await get_authenticator(request).authenticate(token)
        request.scope[_PRINCIPAL_KEY] = principal
        return principal


BEARER_SCHEME = "HTTPBearer"
BEARER_DESCRIPTION = "Access token (service or Cognito)"
current_principal = BearerPrincipal(
    auto_error=False, description=BEARER_DESCRIPTION, scheme_name=BEARER_SCHEME
)

CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


class Permission(ABC):
    """A rule over the principal and the request; `denied()` is the error when it fails."""

    @abstractmethod
    def allows(self, principal: Principal, request: Request) -> bool: ...

    def denied(self) -> AppError:
        return ForbiddenError("Not allowed", code="forbidden")

    def __and__(self, other: Permission) -> Permission:
        return _All(self, other)

    def __or__(self, other: Permission) -> Permission:
        return _Any(self, other)


class _All(Permission):
    def __init__(self, *parts: Permission) -> None:
        self.parts = parts

    def allows(self, principal: Principal, request: Request) -> bool:
        return all(p.allows(principal, request) for p in self.parts)

    def denied(self) -> AppError:
        return self.parts[0].denied() if self.parts else super().denied()


class _Any(_All):
    def allows(self, principal: Principal, request: Request) -> bool:
        return any(p.allows(principal, request) for p in self.parts)

    def denied(self) -> AppError:
        # The most discreet answer of the alternatives: a 404 hides what a 403 would confirm.
        errors = [p.denied() for p in self.parts]
        return next((e for e in errors if isinstance(e, NotFoundError)), errors[0])


class IsAuthenticated(Permission):
    def allows(self, principal: Principal, request: Request) -> bool:
        return True


class IsAdmin(Permission):
    def allows(self, principal: Principal, request: Request) -> bool:
        return principal.is_admin

    def denied(self) -> AppError:
        return ForbiddenError("Administrators only", code="admin_required")


def _not_found() -> AppError:
    return NotFoundError("Not found")


class IsSelf(Permission):
    """The path parameter `param` names the principal itself; strangers get a 404: `not_found`,
    or the error `not_found` makes (the module's own, so a stranger's record and a missing one
    answer alike)."""

    def __init__(self, param: str = "user_id", not_found: Callable[[], AppError] = _not_found):
        self.param = param
        self._not_found = not_found

    def allows(self, principal: Principal, request: Request) -> bool:
        return request.path_params.get(self.param) == principal.id

    def denied(self) -> AppError:
        return self._not_found()


class RequirePermissions(BearerPrincipal):
    """Authenticates, then checks every permission given. The bearer scheme itself (so the
    route's OpenAPI security is the same), and a request-only dependency like the principal."""

    def __init__(self, *permissions: Permission) -> None:
        super().__init__(
            auto_error=False, description=BEARER_DESCRIPTION, scheme_name=BEARER_SCHEME
        )
        self.permission = _All(*permissions) if permissions else IsAuthenticated()

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        principal = await super().__call__(request)
        if not self.permission.allows(principal, request):
            raise self.permission.denied()
        return principal


RequireAdmin = Annotated[Principal, Depends(RequirePermissions(IsAdmin()))]
