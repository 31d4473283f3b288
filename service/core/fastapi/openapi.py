"""Make the OpenAPI document tell the truth about errors: every one is problem+json.

FastAPI documents a 422 with its own `HTTPValidationError` body; this service answers every error,
422 included, with RFC 9457 problem details. The document is rewritten once, when first served
(FastAPI's documented way: the app's `openapi` replaced), and each module may then refine what
depends on settings, which a route declared at import cannot know (`Module.refine_openapi`: the
files module lists the allowed content types as an enum).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from service.core.fastapi.problem import PROBLEM_MEDIA_TYPE

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "request_id": {"type": ["string", "null"]},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message", "type"],
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}
_PROBLEM_CONTENT = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
_HTTP_METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


OpenApiRefinement = Callable[[dict[str, Any]], None]


def problem_openapi(app: FastAPI, refinements: Sequence[OpenApiRefinement] = ()) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for path_item in document.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in _HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for status, response in responses.items():
                if status.startswith(("4", "5")) or status == "default":
                    response["content"] = _PROBLEM_CONTENT
            responses.setdefault(
                "default", {"description": "Error (problem details)", "content": _PROBLEM_CONTENT}
            )
    for refine in refinements:
        refine(document)
    app.openapi_schema = document
    return document


def install_problem_openapi(app: FastAPI, refinements: Sequence[OpenApiRefinement] = ()) -> None:
    app.openapi = lambda: problem_openapi(app, refinements)  # type: ignore[method-assign]
