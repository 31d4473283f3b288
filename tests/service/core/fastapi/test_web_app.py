"""service/core/fastapi/web_app.py: the built web app served by the API in local mode, the way
CloudFront serves it deployed (tests/infra/test_web_app.py checks that side)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from service.core.fastapi.exception_handlers import register_exception_handlers
from service.core.fastapi.problem import PROBLEM_MEDIA_TYPE
from service.core.fastapi.web_app import mount_web_app

INDEX = "<!doctype html><title>app</title>"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    (tmp_path / "index.html").write_text(INDEX)
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log(1)")
    app = FastAPI()
    register_exception_handlers(app)

    @app.get("/api/v1/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    mount_web_app(app, tmp_path, connect_origins=["http://127.0.0.1:55000"])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.mark.parametrize("path", ["/", "/files", "/verify-email?token=x", "/a/deep/page"])
async def test_pages_of_the_app_are_index_html_never_cached(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["cache-control"] == "no-cache"
    csp = response.headers["content-security-policy"]
    assert "connect-src 'self' http://127.0.0.1:55000;" in csp
    assert "frame-ancestors 'none'" in csp


async def test_hashed_assets_are_cached_for_a_year(client: httpx.AsyncClient) -> None:
    response = await client.get("/assets/index-abc123.js")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"


async def test_a_missing_file_is_a_404_not_the_app(client: httpx.AsyncClient) -> None:
    assert (await client.get("/assets/missing.js")).status_code == 404


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/ping/extra", "/healthz/nope"])
async def test_api_paths_keep_the_apis_problem_404(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    assert (await client.get("/api/v1/ping")).json() == {"pong": "yes"}


def test_an_unbuilt_app_is_refused_with_the_build_command(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="scripts/web build"):
        mount_web_app(FastAPI(), tmp_path, connect_origins=[])
