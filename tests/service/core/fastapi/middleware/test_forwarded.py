"""ForwardedMiddleware on what the app sees: request.client and the URL's scheme.

The served end-to-end proof (uvicorn, the access line) is tests/service/test_client_address.py.
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, Request

from service.core.fastapi.middleware.forwarded import ForwardedMiddleware

ALB = "10.20.3.4"
VIEWER = "203.0.113.7"
CLOUDFRONT = "130.176.1.1"


async def seen(
    headers: list[tuple[str, str]], *, peer: str = ALB, trusted: str = "10.20.0.0/16"
) -> dict[str, str | None]:
    app = FastAPI()
    app.add_middleware(ForwardedMiddleware, trusted_peers=trusted, trusted_hops=2)

    @app.get("/seen")
    async def report(request: Request) -> dict[str, str | None]:
        client = request.client.host if request.client else None
        return {"client": client, "scheme": request.url.scheme}

    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        response = await http.get("/seen", headers=headers)
    body: dict[str, str | None] = response.json()
    return body


async def test_the_client_is_the_entry_cloudfront_appended_and_the_scheme_the_albs() -> None:
    headers = [
        ("X-Forwarded-For", f"6.6.6.6, {VIEWER}, {CLOUDFRONT}"),
        ("X-Forwarded-Proto", "https"),
    ]
    assert await seen(headers) == {"client": VIEWER, "scheme": "https"}


async def test_repeated_headers_are_one_list() -> None:
    headers = [("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-For", f"{VIEWER}, {CLOUDFRONT}")]
    assert (await seen(headers))["client"] == VIEWER


async def test_an_ipv6_viewer_is_written_canonically() -> None:
    headers = [("X-Forwarded-For", f"2001:DB8:0:0::7, {CLOUDFRONT}")]
    assert (await seen(headers))["client"] == "2001:db8::7"


async def test_an_ipv4_peer_on_a_dual_stack_socket_is_still_the_alb() -> None:
    headers = [("X-Forwarded-For", f"{VIEWER}, {CLOUDFRONT}")]
    assert (await seen(headers, peer=f"::ffff:{ALB}"))["client"] == VIEWER


@pytest.mark.parametrize(
    "forwarded_for", [f"fe80::1%eth0, {CLOUDFRONT}", f"{VIEWER}:443, {CLOUDFRONT}", "x" * 300]
)
async def test_an_entry_no_proxy_of_ours_writes_keeps_the_peer(forwarded_for: str) -> None:
    assert (await seen([("X-Forwarded-For", forwarded_for)]))["client"] == ALB


async def test_an_untrusted_peer_sets_neither_address_nor_scheme() -> None:
    headers = [
        ("X-Forwarded-For", f"{VIEWER}, {CLOUDFRONT}"),
        ("X-Forwarded-Proto", "https"),
    ]
    assert await seen(headers, peer="10.99.0.1") == {"client": "10.99.0.1", "scheme": "http"}


async def test_an_unknown_scheme_is_ignored() -> None:
    assert (await seen([("X-Forwarded-Proto", "gopher")]))["scheme"] == "http"
