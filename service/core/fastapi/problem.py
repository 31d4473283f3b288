"""RFC 9457 problem details: the one shape of every error response."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from starlette.responses import JSONResponse

from service.core.exceptions.base import PROBLEM_TYPE_PREFIX, AppError
from service.core.request_context import current_request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def code_for_status(status: int) -> str:
    return HTTPStatus(status).name.lower()


def problem_response(
    status: int,
    *,
    code: str | None = None,
    detail: str | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> ProblemResponse:
    http_status = HTTPStatus(status)
    code = code or code_for_status(status)
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_PREFIX + code,
        "title": http_status.phrase,
        "status": status,
        "detail": detail or http_status.description,
        "code": code,
        "request_id": current_request_id(),
    }
    if extra:
        body.update(extra)
    return ProblemResponse(body, status_code=status, headers=dict(headers or {}))


def problem_from_error(error: AppError) -> ProblemResponse:
    return problem_response(
        error.status, code=error.code, detail=error.detail, headers=error.headers, extra=error.extra
    )
