"""The users API: /api/v1/auth/* and /api/v1/users/*."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from service.app.users.adapter.input.api.permissions import SelfOrAdmin
from service.app.users.adapter.input.api.v1.schemas import (
    AcceptedResponse,
    AdminUpdateRequest,
    ForgotPasswordRequest,
    LoginRequest,
    OneTimeTokenRequest,
    RefreshRequest,
    RegisterRequest,
    ResetPasswordRequest,
    SecurityEventPageResponse,
    SecurityEventResponse,
    TokenResponse,
    UpdateMeRequest,
    UserPageResponse,
    UserResponse,
)
from service.app.users.application.auth_service import AuthService
from service.app.users.application.dto import TokenPair, UserDTO
from service.app.users.application.user_service import UserService
from service.app.users.container import UsersContainer
from service.app.users.domain.ports import UserFilter
from service.app.users.domain.user import Role
from service.core.fastapi.client import ClientAddress
from service.core.fastapi.conditional import (
    IF_MATCH_RESPONSES,
    IfMatch,
    OptionalIfMatch,
    etag,
)
from service.core.fastapi.dependencies import CurrentPrincipal, Inject, RequireAdmin
from service.core.fastapi.pagination import INVALID_CURSOR_RESPONSES, PageCursor, PageLimit

Users = Annotated[UserService, Inject(UsersContainer.user_service)]
Auth = Annotated[AuthService, Inject(UsersContainer.auth_service)]

auth_router = APIRouter(prefix="/auth", tags=["auth"])
users_router = APIRouter(prefix="/users", tags=["users"])


def with_etag(user: UserDTO, response: Response) -> UserDTO:
    """The user, its version as the response's ETag (what a write sends back in If-Match);
    `response_model=UserResponse` decides which fields go out."""
    response.headers["ETag"] = etag(user.version)
    return user


def token_response(pair: TokenPair) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        token_type=pair.token_type,
        expires_in=pair.expires_in,
    )


# -- /auth ------------------------------------------------------------------------------------


@auth_router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserResponse,
    summary="Create an account (a verification mail is sent)",
    responses={
        409: {"description": "email_taken"},
        422: {"description": "weak_password"},
        429: {"description": "rate_limited"},
    },
)
async def register(
    body: RegisterRequest, auth: Auth, address: ClientAddress, response: Response
) -> UserDTO:
    user = await auth.register(
        email=str(body.email), password=body.password, full_name=body.full_name, address=address
    )
    return with_etag(user, response)


@auth_router.post(
    "/login",
    response_model=TokenResponse,
    responses={
        401: {"description": "invalid_credentials"},
        429: {"description": "login_locked, rate_limited"},
    },
)
async def login(body: LoginRequest, auth: Auth, address: ClientAddress) -> TokenResponse:
    return token_response(
        await auth.login(email=body.email, password=body.password, address=address)
    )


@auth_router.post("/refresh", response_model=TokenResponse)
async def refresh(body: RefreshRequest, auth: Auth) -> TokenResponse:
    return token_response(await auth.refresh(body.refresh_token))


@auth_router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(principal: CurrentPrincipal, auth: Auth) -> Response:
    await auth.logout(principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@auth_router.post(
    "/logout-all",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="End every session of the caller's account, this one too",
)
async def logout_all(principal: CurrentPrincipal, auth: Auth, address: ClientAddress) -> Response:
    await auth.logout_all(principal, address)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@auth_router.post(
    "/verify-email/request",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AcceptedResponse,
    responses={429: {"description": "rate_limited"}},
)
async def request_verification(
    principal: CurrentPrincipal, auth: Auth, address: ClientAddress
) -> AcceptedResponse:
    await auth.request_verification(principal.id, address)
    return AcceptedResponse()


_ONE_TIME_TOKEN_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {
        "description": "A token this API did not issue, used or expired (invalid_or_expired_token)"
    }
}


@auth_router.post(
    "/verify-email",
    response_model=UserResponse,
    responses={**_ONE_TIME_TOKEN_RESPONSES, 429: {"description": "rate_limited"}},
)
async def verify_email(
    body: OneTimeTokenRequest, auth: Auth, address: ClientAddress, response: Response
) -> UserDTO:
    return with_etag(await auth.verify_email(body.token, address), response)


@auth_router.post(
    "/password/forgot",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AcceptedResponse,
    responses={429: {"description": "rate_limited"}},
)
async def forgot_password(
    body: ForgotPasswordRequest, auth: Auth, address: ClientAddress
) -> AcceptedResponse:
    await auth.forgot_password(body.email, address)
    return AcceptedResponse()


@auth_router.post(
    "/password/reset",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        **_ONE_TIME_TOKEN_RESPONSES,
        422: {"description": "weak_password (the password is the email), or an invalid body"},
        429: {"description": "rate_limited"},
    },
)
async def reset_password(
    body: ResetPasswordRequest, auth: Auth, address: ClientAddress
) -> Response:
    await auth.reset_password(body.token, body.new_password, address)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- /users -----------------------------------------------------------------------------------


@users_router.get("/me", response_model=UserResponse, summary="The caller (cached; ETag)")
async def read_me(principal: CurrentPrincipal, users: Users, response: Response) -> UserDTO:
    return with_etag(await users.get_user(principal.id), response)


@users_router.patch(
    "/me",
    response_model=UserResponse,
    summary="Change the caller's name or password (If-Match required)",
    responses={
        **IF_MATCH_RESPONSES,
        401: {"description": "wrong_current_password, or not signed in"},
        422: {"description": "weak_password, or an invalid body or If-Match"},
        429: {"description": "login_locked, rate_limited"},
    },
)
async def update_me(
    body: UpdateMeRequest,
    principal: CurrentPrincipal,
    users: Users,
    expected_version: IfMatch,
    address: ClientAddress,
    response: Response,
) -> UserDTO:
    user = await users.update_profile(
        principal.id,
        expected_version=expected_version,
        full_name=body.full_name,
        current_password=body.current_password,
        new_password=body.new_password,
        address=address,
    )
    return with_etag(user, response)


@users_router.get(
    "",
    response_model=UserPageResponse,
    summary="List users (admin)",
    responses=INVALID_CURSOR_RESPONSES,
)
async def list_users(
    _: RequireAdmin,
    users: Users,
    limit: PageLimit = 20,
    cursor: PageCursor = None,
    role: Role | None = None,
    is_active: bool | None = None,
    email_prefix: Annotated[str | None, Query(min_length=1, max_length=254)] = None,
) -> UserPageResponse:
    page = await users.list_users(
        limit=limit,
        cursor=cursor,
        where=UserFilter(role=role, is_active=is_active, email_prefix=email_prefix),
    )
    return UserPageResponse(
        items=[UserResponse.model_validate(item.model_dump()) for item in page.items],
        next_cursor=page.next_cursor,
    )


@users_router.get(
    "/{user_id}", response_model=UserResponse, summary="A user (themself or an admin; else 404)"
)
async def read_user(user_id: str, _: SelfOrAdmin, users: Users, response: Response) -> UserDTO:
    return with_etag(await users.get_user(user_id), response)


@users_router.patch(
    "/{user_id}",
    response_model=UserResponse,
    summary="Role, status (admin)",
    responses=IF_MATCH_RESPONSES,
)
async def admin_update_user(
    user_id: str,
    body: AdminUpdateRequest,
    admin: RequireAdmin,
    users: Users,
    expected_version: OptionalIfMatch,
    response: Response,
) -> UserDTO:
    user = await users.admin_update(
        user_id,
        expected_version=expected_version,
        role=body.role,
        is_active=body.is_active,
        actor_id=admin.id,
    )
    return with_etag(user, response)


@users_router.delete(
    "/{user_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a user (admin)"
)
async def delete_user(user_id: str, admin: RequireAdmin, users: Users) -> Response:
    await users.delete(user_id, actor_id=admin.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@users_router.get(
    "/{user_id}/security-events",
    response_model=SecurityEventPageResponse,
    summary="An account's security audit trail, newest first (admin)",
    responses=INVALID_CURSOR_RESPONSES,
)
async def security_events(
    user_id: str,
    _: RequireAdmin,
    users: Users,
    limit: PageLimit = 20,
    cursor: PageCursor = None,
) -> SecurityEventPageResponse:
    page = await users.security_events(user_id, limit=limit, cursor=cursor)
    return SecurityEventPageResponse(
        items=[
            SecurityEventResponse.model_validate(event, from_attributes=True)
            for event in page.items
        ],
        next_cursor=page.next_cursor,
    )
