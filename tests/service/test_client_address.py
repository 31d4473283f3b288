"""The client's address behind CloudFront and the ALB, over a real uvicorn server on loopback.

Loopback stands in for the VPC: FORWARDED_ALLOW_IPS names 127.0.0.16/28 as the deployment
names the VPC's CIDR, and a connection from 127.0.0.17 is the ALB. CloudFront reaches the ALB
from its public origin-facing ranges (130.176.1.1 here), which are not in the VPC: the ALB
appends that address, CloudFront the viewer's, so FORWARDED_TRUSTED_HOPS=2. A connection from
127.0.0.1 is a peer outside FORWARDED_ALLOW_IPS.
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

VPC = "127.0.0.16/28"
ALB = "127.0.0.17"
OUTSIDE = "127.0.0.1"
CLOUDFRONT = "130.176.1.1"  # an origin-facing address: public, outside the VPC
VIEWER = "203.0.113.7"
FORGED = "6.6.6.6"


def _served(
    stack_env: dict[str, str], run_id: str, tmp: pytest.TempPathFactory, hops: int
) -> Iterator[tuple[str, Path]]:
    log = tmp.mktemp("client_address") / "api.log"
    overrides = {"FORWARDED_ALLOW_IPS": VPC, "FORWARDED_TRUSTED_HOPS": str(hops)}
    with served_api(stack_env, run_id, log, **overrides) as base:
        yield base, log


@pytest.fixture(scope="module")
def behind_the_platform(
    stack_env: dict[str, str], run_id: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    yield from _served(stack_env, run_id, tmp_path_factory, hops=2)


@pytest.fixture(scope="module")
def no_hops(
    stack_env: dict[str, str], run_id: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    yield from _served(stack_env, run_id, tmp_path_factory, hops=0)


def client_of(served: tuple[str, Path], *, source: str, forwarded_for: str) -> str | None:
    """The client address the access line names for one request from `source`."""
    base, log = served
    request_id = uuid.uuid4().hex
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(base_url=base, transport=transport, timeout=10) as http:
        response = http.get(
            "/healthz/live",
            headers={"X-Request-Id": request_id, "X-Forwarded-For": forwarded_for},
        )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == request_id
    client: str | None = access_line(log, request_id)["client"]
    return client


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


def test_through_cloudfront_and_the_alb_the_client_is_the_viewer_not_a_forged_entry(
    behind_the_platform: tuple[str, Path],
) -> None:
    # The client sent "X-Forwarded-For: 6.6.6.6"; CloudFront appended the viewer's address,
    # the ALB the public address CloudFront connected from.
    chain = f"{FORGED}, {VIEWER}, {CLOUDFRONT}"
    assert client_of(behind_the_platform, source=ALB, forwarded_for=chain) == VIEWER


def test_a_peer_outside_forwarded_allow_ips_cannot_set_its_address(
    behind_the_platform: tuple[str, Path],
) -> None:
    chain = f"{FORGED}, {VIEWER}, {CLOUDFRONT}"
    assert client_of(behind_the_platform, source=OUTSIDE, forwarded_for=chain) == OUTSIDE


@pytest.mark.parametrize(
    "chain",
    [
        VIEWER,  # fewer entries than hops: the request skipped CloudFront
        f"{FORGED}, not-an-address, {CLOUDFRONT}",  # CloudFront's entry is not an address
        f"{FORGED}, {VIEWER},",  # the ALB's entry is missing
        "",
    ],
)
def test_a_chain_our_proxies_did_not_write_keeps_the_peer_address(
    behind_the_platform: tuple[str, Path], chain: str
) -> None:
    assert client_of(behind_the_platform, source=ALB, forwarded_for=chain) == ALB


def test_whatever_a_client_writes_left_of_the_proxies_entries_is_ignored(
    behind_the_platform: tuple[str, Path],
) -> None:
    chain = f'garbage", [::1, {VIEWER}, {CLOUDFRONT}'
    assert client_of(behind_the_platform, source=ALB, forwarded_for=chain) == VIEWER


def test_with_no_trusted_hops_x_forwarded_for_is_ignored(no_hops: tuple[str, Path]) -> None:
    chain = f"{FORGED}, {VIEWER}, {CLOUDFRONT}"
    assert client_of(no_hops, source=ALB, forwarded_for=chain) == ALB
