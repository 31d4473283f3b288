from __future__ import annotations

import httpx

from service.core.fastapi.openapi import install_problem_openapi
from tests.service.core.fastapi.conftest import build_probe_app


async def test_every_error_response_is_documented_as_problem_json() -> None:
    app = build_probe_app()
    install_problem_openapi(app)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        document = (await http.get("/openapi.json")).json()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert document["components"]["schemas"]["Problem"]["required"][-1] == "code"
    signup = document["paths"]["/signup"]["post"]["responses"]
    assert list(signup["422"]["content"]) == ["application/problem+json"]
    for path_item in document["paths"].values():
        for operation in path_item.values():
            assert "application/problem+json" in operation["responses"]["default"]["content"]
