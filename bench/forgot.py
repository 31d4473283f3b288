"""Forgot-password for a known and an unknown account, side by side (issue 22, finding 4).

Sequential pairs, interleaved (known, unknown, known, ...), each request timed on the client:
the medians and the 10th/90th percentiles of both, and their ratio. The request path does the
same work for both (the worker decides), so the ratio should be 1 within noise; before, a known
account took about twice as long (it wrote a token and queued the mail before answering).

Rate limits are the application's: the bench server runs with `BENCH_RATE_LIMITS` so the
forgot-password and sign-in scenarios measure the service, not the limiter's 429s.
"""

from __future__ import annotations

import json
import statistics
import time
import urllib.request
import uuid
from typing import Any

ROOMY = "1000000/minute"
BENCH_RATE_LIMITS = {
    f"{action}.{scope}": ROOMY
    for action in ("login", "register", "forgot", "reset", "verify_resend", "reauth")
    for scope in ("account", "address")
} | {"verify.address": ROOMY}


def _forgot(base: str, email: str) -> float:
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{base}/api/v1/auth/password/forgot",
        data=json.dumps({"email": email}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        response.read()
        assert response.status == 202, response.status
    return (time.perf_counter() - started) * 1000


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def forgot_medians(base: str, known_email: str, pairs: int = 200) -> dict[str, Any]:
    known: list[float] = []
    unknown: list[float] = []
    for _ in range(5):  # warm-up: connections, the broker, the limiter's scripts
        _forgot(base, known_email)
    for _ in range(pairs):
        known.append(_forgot(base, known_email))
        unknown.append(_forgot(base, f"nobody-{uuid.uuid4().hex[:12]}@example.com"))
    result: dict[str, Any] = {"pairs": pairs}
    for name, values in (("known", known), ("unknown", unknown)):
        result[name] = {
            "p50_ms": statistics.median(values),
            "p10_ms": _percentile(values, 0.1),
            "p90_ms": _percentile(values, 0.9),
        }
    result["known_vs_unknown_p50"] = result["known"]["p50_ms"] / result["unknown"]["p50_ms"]
    return result


def report(result: dict[str, Any]) -> str:
    return (
        f"forgot-password p50: known {result['known']['p50_ms']:.2f} ms, unknown "
        f"{result['unknown']['p50_ms']:.2f} ms (ratio {result['known_vs_unknown_p50']:.2f}; "
        f"p10-p90 known {result['known']['p10_ms']:.2f}-{result['known']['p90_ms']:.2f}, "
        f"unknown {result['unknown']['p10_ms']:.2f}-{result['unknown']['p90_ms']:.2f})"
    )
