"""The users module's errors, each with a stable problem `code`."""

from __future__ import annotations

from service.core.exceptions import (
    BadRequestError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    TooManyRequestsError,
    UnauthorizedError,
    UnprocessableError,
)


class EmailTakenError(ConflictError):
    code = "email_taken"


class IdentityTakenError(ConflictError):
    code = "identity_taken"


class UserNotFoundError(NotFoundError):
    code = "user_not_found"


class WeakPasswordError(UnprocessableError):
    code = "weak_password"


class InvalidCredentialsError(UnauthorizedError):
    code = "invalid_credentials"


class AccountDisabledError(ForbiddenError):
    code = "account_disabled"


class InvalidOneTimeTokenError(BadRequestError):
    code = "invalid_or_expired_token"


class AlreadyVerifiedError(ConflictError):
    code = "already_verified"


class WrongCurrentPasswordError(InvalidCredentialsError):
    code = "wrong_current_password"


class LoginLockedError(TooManyRequestsError):
    code = "login_locked"


class TokenRevokedError(UnauthorizedError):
    """A well-formed token whose session, account or token itself was revoked."""

    code = "token_revoked"


class RefreshTokenReusedError(UnauthorizedError):
    code = "refresh_token_reused"
