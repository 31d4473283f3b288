"""moto's server, as `python -m moto.server` runs it, plus one S3 behaviour moto lacks.

S3 answers a browser's presigned form POST with the CORS headers of the bucket rule that matches
its Origin. moto evaluates the rules for preflights and reads but not for that POST, so a browser
would refuse the upload's answer even from an allowed origin. Started with
MOTO_DISABLE_GLOBAL_CORS=true (scripts/stack), the bucket's rules are the only CORS there is.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

from moto import server
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends
from moto.s3.utils import cors_matches_origin

Headers = list[tuple[str, str]]


def _cors_headers(bucket_name: str, origin: str) -> Headers:
    try:
        bucket = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].get_bucket(bucket_name)
    except Exception:  # no such bucket: S3 sends no CORS headers either
        return []
    for rule in bucket.cors:
        if rule.allowed_origins and cors_matches_origin(origin, rule.allowed_origins):
            headers = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
            if rule.exposed_headers:
                headers.append(("Access-Control-Expose-Headers", ", ".join(rule.exposed_headers)))
            return headers
    return []


class FormPostCors:
    """WSGI middleware: CORS headers on POST answers that moto left without them."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        origin = environ.get("HTTP_ORIGIN")
        if not origin or environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        bucket = str(environ.get("PATH_INFO", "/")).lstrip("/").split("/", 1)[0]

        def start(status: str, headers: Headers, exc_info: Any = None) -> Any:
            if not any(name.lower() == "access-control-allow-origin" for name, _ in headers):
                headers = [*headers, *_cors_headers(bucket, origin)]
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


def main(argv: list[str]) -> None:
    run_simple = server.run_simple  # type: ignore[attr-defined]

    def run_wrapped(host: str, port: int, app: Any, **options: Any) -> None:
        run_simple(host, port, FormPostCors(app), **options)

    server.run_simple = run_wrapped  # type: ignore[attr-defined,assignment]
    server.main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
