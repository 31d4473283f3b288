"""Exception handlers that render every error as problem+json."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from service.core.exceptions.base import AppError
from service.core.fastapi.problem import problem_from_error, problem_response


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


def register_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, app_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
