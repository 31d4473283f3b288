"""Bad input on the wire, against the real server: a clear 4xx, never a 5xx or a hang."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import httpx
import pytest

REGISTER = "/api/v1/auth/register"


def raw_request(base: str, request: bytes, timeout: float = 10.0) -> bytes:
    """Send bytes as they are (no client library to tidy them up) and read the answer."""
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and len(b"".join(chunks)) > 64:
                break
    return b"".join(chunks)


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def post(base: str, body: bytes, content_type: str = "application/json") -> bytes:
    head = (
        f"POST {REGISTER} HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    return raw_request(base, head + body)


def test_an_oversized_body_is_413(live_api: str) -> None:
    body = b'{"email": "' + b"a" * 2_000_000 + b'"}'
    with httpx.Client(base_url=live_api, timeout=10) as http:
        response = http.post(REGISTER, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


def test_deeply_nested_json_is_a_4xx(live_api: str) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    response = post(live_api, body)
    assert 400 <= status_of(response) < 500


def test_invalid_utf8_is_a_4xx(live_api: str) -> None:
    response = post(live_api, b'{"email": "\xff\xfe\xfa", "password": "x\xc3"}')
    assert 400 <= status_of(response) < 500


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", "x/y"]
)
def test_an_unknown_content_type_is_a_4xx(live_api: str, content_type: str) -> None:
    response = post(live_api, b"email=a@example.com&password=whatever12", content_type)
    assert 400 <= status_of(response) < 500


def test_huge_headers_are_a_4xx(live_api: str) -> None:
    with httpx.Client(base_url=live_api, timeout=10) as http:
        response = http.get("/healthz/live", headers={"X-Padding": "p" * 60_000})
    assert 400 <= response.status_code < 500


def test_many_headers_are_a_4xx(live_api: str) -> None:
    headers = {f"X-H-{i}": "v" * 100 for i in range(300)}
    with httpx.Client(base_url=live_api, timeout=10) as http:
        response = http.get("/healthz/live", headers=headers)
    assert 400 <= response.status_code < 500


def test_a_body_shorter_than_its_content_length_does_not_hang_the_server(live_api: str) -> None:
    head = (
        f"POST {REGISTER} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        "Content-Length: 100\r\n\r\n"
    ).encode()
    parts = urlsplit(live_api)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(head + b'{"email":')
        sock.shutdown(socket.SHUT_WR)  # the client gives up half way
        sock.recv(65536)
    with httpx.Client(base_url=live_api, timeout=5) as http:
        assert http.get("/healthz/live").status_code == 200
