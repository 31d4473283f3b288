"""The one application error type; every error response is rendered from it as RFC 9457."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, ClassVar, Self

PROBLEM_TYPE_PREFIX = "urn:biwoco:problem:"


class AppError(Exception):
    """An error with a stable machine-readable `code` and an HTTP status.

    Plain Python on purpose: domain and application code raise these without importing a web
    framework; the FastAPI adapter renders them as problem+json.
    """

    status: ClassVar[int] = HTTPStatus.INTERNAL_SERVER_ERROR
    code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.detail = detail or HTTPStatus(self.status).description
        if code is not None:
            self.code = code  # type: ignore[misc]  # an instance may refine the class's code
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})
        super().__init__(self.detail)

    def with_extra(self, **extra: Any) -> Self:
        """Add members to the problem body (RFC 9457 extension members)."""
        self.extra.update(extra)
        return self

    @property
    def title(self) -> str:
        return HTTPStatus(self.status).phrase

    @property
    def type(self) -> str:
        return PROBLEM_TYPE_PREFIX + self.code
