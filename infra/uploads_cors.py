"""The uploads bucket's CORS rules, in S3's own shape (``PutBucketCors``), for one list of origins.

One definition for both places the bucket exists: deployed, the service stack puts it on the
uploads bucket (``UploadsCors`` in ``infra/uploads.py``, once the distribution's URL exists), and
the local stack (``scripts/stack``) puts it on moto's bucket.
The web app posts the presigned form (with an upload progress listener, so the browser always
sends a preflight) and may fetch a presigned GET; nothing else crosses origins.
Standard library only: the local stack imports it without the CDK.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

UPLOADS_CORS_METHODS = ("POST", "GET")
UPLOADS_CORS_EXPOSED_HEADERS = ("ETag",)
UPLOADS_CORS_MAX_AGE_SECONDS = 3000


def uploads_cors_rules(origins: Sequence[str]) -> list[dict[str, Any]]:
    """The rules for these exact origins; no rule at all (no cross-origin access) for none."""
    if any(origin == "*" or origin.endswith("/") for origin in origins):
        raise ValueError(f"CORS origins must be exact origins without a path: {list(origins)}")
    if not origins:
        return []
    return [
        {
            "ID": "web-app-presigned-post-and-get",
            "AllowedMethods": list(UPLOADS_CORS_METHODS),
            "AllowedOrigins": list(origins),
            "ExposeHeaders": list(UPLOADS_CORS_EXPOSED_HEADERS),
            "MaxAgeSeconds": UPLOADS_CORS_MAX_AGE_SECONDS,
        }
    ]
