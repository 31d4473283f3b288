"""The local S3 (scripts/moto_server.py via scripts/stack) answers browsers as S3 does: by the
uploads bucket's CORS rules (infra/uploads_cors.py), on preflights and on the form POST."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest

from scripts.stack import ManagedProcess, apply_uploads_cors, free_port, start_moto

APP = "http://127.0.0.1:8000"
BUCKET = "cors-check"

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedProcess]:
    workdir: Path = tmp_path_factory.mktemp("moto-cors")
    with start_moto(free_port(), workdir, buckets=[BUCKET]) as process:
        apply_uploads_cors(process.url, BUCKET, [APP])
        yield process


def _preflight(moto: ManagedProcess, origin: str) -> httpx.Response:
    return httpx.options(
        f"{moto.url}/{BUCKET}",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )


def test_the_apps_origin_passes_the_preflight(moto: ManagedProcess) -> None:
    response = _preflight(moto, APP)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == APP
    assert response.headers["access-control-allow-methods"] == "POST, GET"


def test_another_origin_is_refused(moto: ManagedProcess) -> None:
    assert _preflight(moto, "http://localhost:8000").status_code == 403
    assert _preflight(moto, "https://evil.example").status_code == 403


def test_the_form_posts_answer_carries_the_rules_headers(moto: ManagedProcess) -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url=moto.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    post = s3.generate_presigned_post(BUCKET, "uploads/u/f", ExpiresIn=60)
    files = {"file": ("f.txt", b"hello", "text/plain")}
    allowed = httpx.post(post["url"], data=post["fields"], files=files, headers={"Origin": APP})
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == APP
    other = httpx.post(
        post["url"], data=post["fields"], files=files, headers={"Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in other.headers  # the browser hides the answer
