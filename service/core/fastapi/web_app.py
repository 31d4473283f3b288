"""The built web app (web/dist) served by the API process in local mode, as CloudFront serves it
deployed: hashed assets cached for a year, `index.html` never cached, and every unknown path that
is not an API path answered with `index.html` (the app routes in the browser).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from service.core.web_policy import content_security_policy

# Paths the API owns: a miss there is the API's 404 (problem+json), never the app's page.
API_PATH_PREFIXES = ("api/", "healthz/", "docs", "openapi.json")
INDEX = "index.html"
_IMMUTABLE = "public, max-age=31536000, immutable"


class SinglePageApp(StaticFiles):
    def __init__(self, directory: Path, csp: str) -> None:
        super().__init__(directory=directory, html=True, check_dir=True)
        self._csp = csp

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path.startswith(API_PATH_PREFIXES):
            raise HTTPException(status_code=404)
        try:
            response = await super().get_response(path, scope)
        except HTTPException as error:
            # A path with an extension is a missing file; anything else is a page of the app.
            if error.status_code != 404 or "." in path.rsplit("/", 1)[-1]:
                raise
            path = INDEX
            response = await super().get_response(INDEX, scope)
        if path.startswith("assets/"):
            response.headers["Cache-Control"] = _IMMUTABLE
        else:
            response.headers["Cache-Control"] = "no-cache"
        response.headers["Content-Security-Policy"] = self._csp
        return response


def mount_web_app(app: FastAPI, directory: Path, *, connect_origins: list[str]) -> None:
    """Mount last: the API's routes match first, the app answers whatever is left."""
    if not (directory / INDEX).is_file():
        raise ValueError(
            f"WEB_APP_DIR {directory} has no {INDEX}: build it with `scripts/web build`"
        )
    # Served over plain HTTP on loopback: no upgrade-insecure-requests.
    csp = content_security_policy(connect_origins, https=False)
    app.mount("/", SinglePageApp(directory, csp), name="web")
