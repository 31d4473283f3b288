"""Exception handlers that render every error as problem+json."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pymongo.errors import ConnectionFailure, ExecutionTimeout
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from service.core.exceptions.base import AppError
from service.core.fastapi.problem import problem_from_error, problem_response

logger = logging.getLogger(__name__)


def _field_path(location: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in location)


async def app_error_handler(_: Request, error: Exception) -> Response:
    assert isinstance(error, AppError)
    return problem_from_error(error)


async def validation_error_handler(_: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    # Never echo `input`: it may be a password.
    errors = [
        {"field": _field_path(e["loc"]), "message": e["msg"], "type": e["type"]}
        for e in error.errors()
    ]
    fields = ", ".join(sorted({e["field"] for e in errors}))
    return problem_response(
        422, code="validation_error", detail=f"Invalid request: {fields}", extra={"errors": errors}
    )


async def http_error_handler(_: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    detail = error.detail if isinstance(error.detail, str) else None
    return problem_response(error.status_code, detail=detail, headers=error.headers)


def _store_unavailable_handler(
    code: str, detail: str
) -> Callable[[Request, Exception], Awaitable[Response]]:
    # A store outage is the client's 503 (retry later), not a bug: no traceback, no Sentry event.
    async def handler(_: Request, error: Exception) -> Response:
        logger.warning("store unavailable", extra={"code": code, "error": type(error).__name__})
        return problem_response(503, code=code, detail=detail, headers={"Retry-After": "5"})

    return handler


database_unavailable_handler = _store_unavailable_handler(
    "database_unavailable", "The database is unavailable; retry later"
)
# Reached only where Redis is required (token revocation checks): fail closed.
redis_unavailable_handler = _store_unavailable_handler(
    "redis_unavailable", "A required service is unavailable; retry later"
)


def register_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, app_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(ConnectionFailure, database_unavailable_handler)
    # The operation's bound ran out on the server's side (`timeoutMS` also sets maxTimeMS).
    app.add_exception_handler(ExecutionTimeout, database_unavailable_handler)
    app.add_exception_handler(RedisConnectionError, redis_unavailable_handler)
    app.add_exception_handler(RedisTimeoutError, redis_unavailable_handler)
