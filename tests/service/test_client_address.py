"""The client's address behind CloudFront and the ALB, over a real uvicorn server on loopback.

Loopback stands in for the VPC: FORWARDED_ALLOW_IPS names 127.0.0.16/28 as the deployment
names the VPC's CIDR. A connection from 127.0.0.17 is the ALB; 127.0.0.18 in X-Forwarded-For
is the address CloudFront's VPC-origin interface connected to the ALB from. A connection from
127.0.0.1 is a peer outside the trusted hops.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import served_api

TRUSTED_HOPS = "127.0.0.16/28"
ALB = "127.0.0.17"
CLOUDFRONT_IN_VPC = "127.0.0.18"
VIEWER = "203.0.113.7"
FORGED = "6.6.6.6"


@pytest.fixture(scope="module")
def proxied_api(
    stack_env: dict[str, str], run_id: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    log = tmp_path_factory.mktemp("client_address") / "api.log"
    with served_api(stack_env, run_id, log, FORWARDED_ALLOW_IPS=TRUSTED_HOPS) as base:
        yield base, log


def access_line(log: Path, request_id: str) -> dict[str, Any]:
    # The line is written once the response is out: it may land a moment after.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for line in log.read_text(encoding="utf-8").splitlines():
            if request_id in line and '"biwoco.access"' in line:
                entry: dict[str, Any] = json.loads(line)
                if entry.get("request_id") == request_id:
                    return entry
        time.sleep(0.05)
    raise AssertionError(f"no access line for {request_id}")


def get(base: str, *, source: str, forwarded_for: str) -> str:
    request_id = uuid.uuid4().hex
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(base_url=base, transport=transport, timeout=10) as http:
        response = http.get(
            "/healthz/live",
            headers={"X-Request-Id": request_id, "X-Forwarded-For": forwarded_for},
        )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == request_id
    return request_id


def test_through_the_trusted_hops_the_client_is_the_viewer_not_the_forged_entry(
    proxied_api: tuple[str, Path],
) -> None:
    base, log = proxied_api
    # The client sent "X-Forwarded-For: 6.6.6.6"; CloudFront appended the viewer's address,
    # the ALB the address CloudFront connected from.
    request_id = get(base, source=ALB, forwarded_for=f"{FORGED}, {VIEWER}, {CLOUDFRONT_IN_VPC}")
    assert access_line(log, request_id)["client"] == VIEWER


def test_a_peer_outside_the_trusted_hops_cannot_set_its_address(
    proxied_api: tuple[str, Path],
) -> None:
    base, log = proxied_api
    request_id = get(base, source="127.0.0.1", forwarded_for=f"{FORGED}, {VIEWER}")
    assert access_line(log, request_id)["client"] == "127.0.0.1"
