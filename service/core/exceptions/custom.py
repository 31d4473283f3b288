"""Concrete errors, one per HTTP meaning; modules refine them with their own `code`."""

from __future__ import annotations

from http import HTTPStatus

from service.core.exceptions.base import AppError


class BadRequestError(AppError):
    status = HTTPStatus.BAD_REQUEST
    code = "bad_request"


class InvalidCursorError(BadRequestError):
    """A page cursor this API did not issue (service.core.pagination): the same 400 everywhere."""

    code = "invalid_cursor"


class UnauthorizedError(AppError):
    status = HTTPStatus.UNAUTHORIZED
    code = "unauthorized"

    def __init__(self, detail: str | None = None, *, code: str | None = None) -> None:
        super().__init__(
            detail or "Authentication required",
            code=code,
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )


class ForbiddenError(AppError):
    status = HTTPStatus.FORBIDDEN
    code = "forbidden"


class NotFoundError(AppError):
    status = HTTPStatus.NOT_FOUND
    code = "not_found"


class ConflictError(AppError):
    status = HTTPStatus.CONFLICT
    code = "conflict"


class PreconditionFailedError(AppError):
    status = HTTPStatus.PRECONDITION_FAILED
    code = "precondition_failed"


class PreconditionRequiredError(AppError):
    status = HTTPStatus.PRECONDITION_REQUIRED
    code = "precondition_required"


class VersionMismatchError(PreconditionFailedError):
    """A conditional write (If-Match, or a versioned update) found a newer version."""

    code = "version_mismatch"


class PayloadTooLargeError(AppError):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    code = "payload_too_large"


class UnprocessableError(AppError):
    status = HTTPStatus.UNPROCESSABLE_ENTITY
    code = "unprocessable"


class TooManyRequestsError(AppError):
    status = HTTPStatus.TOO_MANY_REQUESTS
    code = "too_many_requests"

    def __init__(self, detail: str | None = None, *, retry_after: int, code: str | None = None):
        super().__init__(detail, code=code, headers={"Retry-After": str(max(1, retry_after))})


class ServiceUnavailableError(AppError):
    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "service_unavailable"

    def __init__(self, detail: str | None = None, *, code: str | None = None) -> None:
        super().__init__(detail, code=code, headers={"Retry-After": "5"})
