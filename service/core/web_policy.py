"""The web app's content security policy: one definition for CloudFront's response-headers
policy (infra/web_app.py) and the API's local serving of the app (core/fastapi/web_app.py).
Standard library only: the CDK app imports it without the service's dependencies."""

from __future__ import annotations

from collections.abc import Sequence


def content_security_policy(connect_origins: Sequence[str], *, https: bool = True) -> str:
    """Exactly what the app needs: its own code and styles, calls to its own origin (the API
    under /api) and to `connect_origins` (the uploads bucket); never framed."""
    connect = " ".join(["'self'", *connect_origins])
    policy = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src {connect}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
        "object-src 'none'"
    )
    return f"{policy}; upgrade-insecure-requests" if https else policy
